// Global variables: .rodata (read-only, constants the loader may set),
// .data and .bss (writable), as one-entry array maps the program
// addresses directly.
#include "corpus.h"

const volatile __u32 cfg_limit = 16;
const volatile __u8 cfg_table[8] = {1, 2, 3, 4, 5, 6, 7, 8};
__u64 counter;
__u32 data_table[4] = {1, 2, 3, 4};

MSG(msg_global_ok_read_rodata) { return msg->size < cfg_limit; }
MSG(msg_global_ok_bss_increment)
{
	counter++;
	return 1;
}
SVERDICT(sverdict_global_ok_data_write)
{
	data_table[3] = skb->len;
	return 1;
}
VERDICT(verdict_global_ok_atomic_bss)
{
	__sync_fetch_and_add(&counter, 1);
	return 1;
}
/* .rodata is frozen and mapped read-only for programs */
SOCKOPS(sockops_global_bad_write_rodata)
{
	*(volatile __u32 *)&cfg_limit = 1;
	return 1;
}
SOCKOPS(sockops_global_ok_rodata_var_index)
{
	__u32 i = skops->op & 7;
	return cfg_table[i] & 1;
}
SOCKOPS(sockops_global_bad_rodata_index_past)
{
	__u32 i = OPAQUE(skops->op) & 15;
	return ((volatile __u8 *)cfg_table)[i] & 1;
}
PARSER(parser_global_ok_data_index)
{
	__u32 i = skb->len & 3;
	return data_table[i];
}
PARSER(parser_global_bad_data_index_le)
{
	__u32 i = OPAQUE((__u32)skb->len);
	if (i > 4)
		return 0;
	return ((volatile __u32 *)data_table)[i];
}
/* the address of a global is a map value pointer: fine as a helper's
 * memory argument */
SVERDICT(sverdict_global_ok_as_helper_buffer)
{
	bpf_skb_load_bytes(skb, 0, data_table, sizeof(data_table));
	return 1;
}
SVERDICT(sverdict_global_bad_helper_buffer_too_long)
{
	bpf_skb_load_bytes(skb, 0, data_table, OPAQUE(17u) & 31);
	return 1;
}
