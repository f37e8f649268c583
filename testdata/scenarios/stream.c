// A stream parser that frames each received skb whole and a verdict that
// passes it: the parser + verdict path without framing of its own, for
// streams of any size.
#include "common.h"

SEC("sk_skb/stream_parser")
int parse_whole(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("sk_skb/stream_verdict")
int verdict_pass(struct __sk_buff *skb)
{
	count(0);
	return SK_PASS;
}
