// sk_msg that passes every message and counts its runs.
#include "common.h"

SEC("sk_msg")
int msg_pass(struct sk_msg_md *msg)
{
	count(0);
	return SK_PASS;
}
