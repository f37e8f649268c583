// Programs whose behaviour differs between builds of the same kernel
// version (see the *.current.yaml and *.earlier.yaml scenarios here).
#include "../rx/common.h"

/* Narrow loads of __sk_buff.remote_port into info[0..6]. */
SEC("sk_skb/stream_verdict")
int remote_port_loads(struct __sk_buff *skb)
{
	void *rp = (void *)skb + offsetof(struct __sk_buff, remote_port);

	record(0, *(volatile __u16 *)(rp + 2));
	record(1, *(volatile __u16 *)rp);
	record(2, *(volatile __u8 *)rp);
	record(3, *(volatile __u8 *)(rp + 1));
	record(4, *(volatile __u8 *)(rp + 2));
	record(5, *(volatile __u8 *)(rp + 3));
	record(6, skb->remote_port);
	return SK_PASS;
}

/* A stream parser that pulls: packet data may change. */
SEC("sk_skb/stream_parser")
int parser_pull(struct __sk_buff *skb)
{
	bpf_skb_pull_data(skb, 0);
	return skb->len;
}

SEC("sk_skb/stream_verdict")
int verdict_pass(struct __sk_buff *skb)
{
	count(1);
	return SK_PASS;
}

/* Counts its runs in counters[0]. */
SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	count(0);
	return SK_PASS;
}
