// Global data (.data, .bss, .rodata, a custom .data.* and .rodata.*
// section), const volatile configuration, __noinline subprograms, a tail
// call through a prog array, bpf_printk and a bpf_loop callback.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 redirect_key = 7;		/* .rodata, set before load */
const volatile __u8 verbose;			/* .rodata, zero: still .rodata */
__u64 msgs_seen = 0;				/* .bss */
__u64 bytes_seen = 100;				/* .data */
__u32 tag SEC(".data.tags") = 0xabcd;		/* custom data section */
const char banner[] SEC(".rodata.banner") = "skmsg";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} sock_hash SEC(".maps");

int tail_pass(struct sk_msg_md *msg);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = { [1] = (void *)&tail_pass },
};

static __noinline __u32 add_bytes(__u32 n)
{
	bytes_seen += n;
	return n + tag;
}

static __noinline int should_log(__u32 size)
{
	if (!verbose)
		return 0;
	return add_bytes(size) > 10;
}

SEC("sk_msg")
int tail_pass(struct sk_msg_md *msg)
{
	return SK_PASS;
}

SEC("sk_msg")
int msg_globals(struct sk_msg_md *msg)
{
	__u32 key = redirect_key;

	msgs_seen++;
	add_bytes(msg->size);
	if (should_log(msg->size))
		bpf_printk("%s: %u bytes", banner, msg->size);
	if (msg->size == 1)
		bpf_tail_call(msg, &jump_table, 1);
	return bpf_msg_redirect_hash(msg, &sock_hash, &key, BPF_F_INGRESS);
}

static int sum_cb(__u32 idx, void *ctx)
{
	*(__u64 *)ctx += idx;
	return 0;
}

/* A callback passed by address: LD_IMM64 with BPF_PSEUDO_FUNC. */
SEC("sk_msg")
int msg_loop(struct sk_msg_md *msg)
{
	__u64 sum = 0;

	bpf_loop(4, sum_cb, &sum, 0);
	return sum == 6 ? SK_PASS : SK_DROP;
}

char _license[] SEC("license") = "Dual BSD/GPL";
