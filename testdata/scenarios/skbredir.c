// A verdict that sends what arrives out through sock_map[1] (egress), and
// an sk_msg program that counts the messages it sees.
#include "common.h"

SEC("sk_skb/stream_verdict")
int skb_redir_egress(struct __sk_buff *skb)
{
	count(0);
	return bpf_sk_redirect_map(skb, &sock_map, 1, 0);
}

SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	count(1);
	return SK_PASS;
}
