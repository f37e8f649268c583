// sk_msg whose verdict comes from a map: config[0] = {action, key} with
// action 0 drop, 1 pass, 2 redirect to sock_map[key] egress, 3 to its
// ingress.
#include "common.h"

struct action {
	__u32 action;
	__u32 key;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct action);
} config SEC(".maps");

SEC("sk_msg")
int msg_config(struct sk_msg_md *msg)
{
	__u32 zero = 0;
	struct action *a = bpf_map_lookup_elem(&config, &zero);

	count(0);
	if (!a)
		return SK_DROP;
	switch (a->action) {
	case 1:
		return SK_PASS;
	case 2:
		return bpf_msg_redirect_map(msg, &sock_map, a->key, 0);
	case 3:
		return bpf_msg_redirect_map(msg, &sock_map, a->key, BPF_F_INGRESS);
	}
	return SK_DROP;
}
