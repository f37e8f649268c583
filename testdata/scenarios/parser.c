// Stream parser framing 10-byte messages, and a verdict that counts its
// runs, records skb->len and passes.
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} last_len SEC(".maps");

SEC("sk_skb/stream_parser")
int prog_parser(struct __sk_buff *skb)
{
	return 10;
}

SEC("sk_skb/stream_verdict")
int prog_verdict(struct __sk_buff *skb)
{
	__u32 zero = 0, len = skb->len;

	count(0);
	bpf_map_update_elem(&last_len, &zero, &len, BPF_ANY);
	return SK_PASS;
}
