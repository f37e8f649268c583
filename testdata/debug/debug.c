// Programs for the debugger's tests and docs: a bpf-to-bpf call, a stack
// variable and a map, so breakpoints, steps and variables have something
// to show. The "break:" comments mark lines the tests stop at.
#include "../scenarios/common.h"

/* sizes[0]: bytes seen by both programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sizes SEC(".maps");

static __noinline __u64 add_size(__u32 size)
{
	__u32 key = 0;
	__u64 *total = bpf_map_lookup_elem(&sizes, &key); /* break: callee */

	if (!total)
		return 0;
	*total += size;
	return *total;
}

SEC("sk_msg")
int msg_debug(struct sk_msg_md *msg)
{
	__u32 size = msg->size; /* break: msg */
	__u64 total;

	total = add_size(size); /* break: call */
	if (total > 100000)
		return SK_DROP;
	return SK_PASS; /* break: pass */
}

SEC("sk_skb/stream_verdict")
int skb_debug(struct __sk_buff *skb)
{
	__u32 len = skb->len; /* break: skb */

	add_size(len);
	return SK_PASS;
}
