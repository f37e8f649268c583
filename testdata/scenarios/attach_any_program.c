// Programs that attach and detach steps name without a programs: entry:
// loaded on first use, each answering as the kernel does.
#include "common.h"

SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	count(0);
	return SK_PASS;
}

SEC("sockops")
int ops_count(struct bpf_sock_ops *skops)
{
	if (skops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		count(1);
	return 1;
}

/* A socket filter: the kernel loads it and refuses it on a sockmap. */
SEC("socket")
int filter_all(struct __sk_buff *skb)
{
	return skb->len;
}

/* The verifier refuses it: sk_msg_md is read-only. */
SEC("sk_msg")
int msg_write_ctx(struct sk_msg_md *msg)
{
	msg->size = 0;
	return SK_PASS;
}
