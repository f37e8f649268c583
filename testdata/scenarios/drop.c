// sk_msg that drops every message.
#include "common.h"

SEC("sk_msg")
int msg_drop(struct sk_msg_md *msg)
{
	count(0);
	return SK_DROP;
}
