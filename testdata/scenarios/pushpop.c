// sk_msg push and pop: push 4 bytes in front and fill them (the kernel
// leaves pushed bytes uninitialised), or pop the first 2 bytes.
#include "common.h"

SEC("sk_msg")
int msg_push(struct sk_msg_md *msg)
{
	char *data, *end;

	if (bpf_msg_push_data(msg, 0, 4, 0))
		return SK_DROP;
	if (bpf_msg_pull_data(msg, 0, 4, 0))
		return SK_DROP;
	data = msg->data;
	end = msg->data_end;
	if (data + 4 > end)
		return SK_DROP;
	data[0] = 'H';
	data[1] = 'D';
	data[2] = 'R';
	data[3] = ':';
	return SK_PASS;
}

SEC("sk_msg")
int msg_pop(struct sk_msg_md *msg)
{
	if (bpf_msg_pop_data(msg, 0, 2, 0))
		return SK_DROP;
	return SK_PASS;
}
