// sk_msg that pulls bytes [2, 6) of the message and records them.
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} seen SEC(".maps");

SEC("sk_msg")
int msg_pull(struct sk_msg_md *msg)
{
	__u32 zero = 0, v;
	void *data, *end;

	if (bpf_msg_pull_data(msg, 2, 6, 0))
		return SK_DROP;
	data = msg->data;
	end = msg->data_end;
	if (data + 4 > end)
		return SK_DROP;
	__builtin_memcpy(&v, data, 4);
	bpf_map_update_elem(&seen, &zero, &v, BPF_ANY);
	return SK_PASS;
}
