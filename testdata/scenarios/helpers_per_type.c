// Helpers per program type, as the kernel's func_proto tables allow them:
// programs calling a helper their type may not use (the verifier refuses
// them), and an sk_msg program using the generic helpers every sockmap type
// may call, each result stored where a scenario can check it.
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} storage SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __s64);
} results SEC(".maps");

static __always_inline void put(__u32 i, __s64 v)
{
	bpf_map_update_elem(&results, &i, &v, BPF_ANY);
}

/* sk_msg_func_proto has no bpf_get_socket_cookie. */
SEC("sk_msg")
int msg_socket_cookie(struct sk_msg_md *msg)
{
	put(0, bpf_get_socket_cookie(msg));
	return SK_PASS;
}

/* sk_skb_func_proto has no socket storage. */
SEC("sk_skb/stream_verdict")
int skb_sk_storage(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (sk && bpf_sk_storage_get(&storage, sk, 0, BPF_SK_STORAGE_GET_F_CREATE))
		return SK_PASS;
	return SK_DROP;
}

/* What the generic helpers answer in an sk_msg program. */
SEC("sk_msg")
int msg_generic(struct sk_msg_md *msg)
{
	char buf[8];
	struct bpf_perf_event_value v;
	struct bpf_sock *sk = msg->sk;

	put(1, bpf_get_current_cgroup_id() == bpf_get_current_ancestor_cgroup_id(0) ||
		       bpf_get_current_ancestor_cgroup_id(1) != 0);
	put(2, bpf_get_current_ancestor_cgroup_id(0));
	put(3, bpf_get_cgroup_classid(0));
	put(4, bpf_perf_event_read(&events, 0));
	put(5, bpf_perf_event_read(&events, 7));
	put(6, bpf_perf_event_read_value(&events, BPF_F_CURRENT_CPU, &v, sizeof(v)));
	put(7, bpf_probe_read_user(buf, sizeof(buf), 0));
	put(8, bpf_probe_read_kernel(buf, sizeof(buf), 0));
	put(9, bpf_get_netns_cookie(msg) != 0);
	if (sk) {
		__u64 *s = bpf_sk_storage_get(&storage, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

		if (s)
			put(10, ++*s);
	}
	return SK_PASS;
}
