// sk_msg that prints each message's size and passes it.
#include "common.h"

SEC("sk_msg")
int msg_printk(struct sk_msg_md *msg)
{
	bpf_printk("skmsg scenario: msg size %u", msg->size);
	return SK_PASS;
}
