// sk_msg that corks until 20 bytes have accumulated, then passes.
#include "common.h"

SEC("sk_msg")
int msg_cork(struct sk_msg_md *msg)
{
	__u32 idx = 1;
	__u64 *corked = bpf_map_lookup_elem(&counters, &idx);

	count(0);
	if (corked && *corked == 0) {
		*corked = 1;
		bpf_msg_cork_bytes(msg, 20);
	}
	return SK_PASS;
}
