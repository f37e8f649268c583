// Programs for attachment rules: verdicts for both verdict slots, and an
// sk_msg program the verifier refuses (it writes its read-only context).
#include "common.h"

SEC("sk_skb/stream_verdict")
int stream_verdict_pass(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("sk_skb/verdict")
int skb_verdict_pass(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("sk_msg")
int msg_pass(struct sk_msg_md *msg)
{
	return SK_PASS;
}

SEC("sk_msg")
int bad_ctx_access(struct sk_msg_md *msg)
{
	msg->size = 0;
	return SK_PASS;
}

/* A legacy section name: the program type comes from attach:. */
SEC("sk_msg1")
int legacy_pass(struct sk_msg_md *msg)
{
	return SK_PASS;
}
