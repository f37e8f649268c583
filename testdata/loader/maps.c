// Every map type skmsg knows, declared the libbpf way (BTF .maps), used from
// sk_msg, sk_skb and sockops programs: the loader's main test object.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u32);
} hash_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} lru_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} lru_percpu_hash SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} lpm SEC(".maps");

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_array);
} array_of_maps SEC(".maps") = {
	.values = { [0] = &inner_a, [1] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 4);
		__type(key, __u32);
		__type(value, __u64);
	});
} hash_of_maps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sk_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} sock_hash SEC(".maps");

SEC("sk_msg")
int msg_all_maps(struct sk_msg_md *msg)
{
	__u32 zero = 0, one = 1;
	__u64 *v;
	__u32 *w;
	struct lpm_key lk = { .prefixlen = 32, .addr = msg->remote_ip4 };
	void *inner;

	v = bpf_map_lookup_elem(&counters, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&percpu_counters, &zero);
	if (v)
		*v += msg->size;
	bpf_map_update_elem(&hash_map, &zero, &one, BPF_ANY);
	v = bpf_map_lookup_elem(&percpu_hash, &zero);
	if (v)
		*v += 1;
	v = bpf_map_lookup_elem(&lru_hash, &one);
	if (v)
		*v += 1;
	v = bpf_map_lookup_elem(&lru_percpu_hash, &one);
	if (v)
		*v += 1;
	w = bpf_map_lookup_elem(&lpm, &lk);
	if (w && *w == 0)
		return SK_DROP;
	inner = bpf_map_lookup_elem(&array_of_maps, &zero);
	if (inner) {
		w = bpf_map_lookup_elem(inner, &zero);
		if (w)
			*w += 1;
	}
	inner = bpf_map_lookup_elem(&hash_of_maps, &zero);
	if (inner) {
		v = bpf_map_lookup_elem(inner, &zero);
		if (v)
			*v += 1;
	}
	bpf_ringbuf_output(&events, &zero, sizeof(zero), 0);
	bpf_map_push_elem(&queue, &one, BPF_ANY);
	bpf_map_push_elem(&stack, &one, BPF_ANY);
	v = bpf_sk_storage_get(&sk_store, msg->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (v)
		*v += 1;
	return bpf_msg_redirect_hash(msg, &sock_hash, &zero, BPF_F_INGRESS);
}

SEC("sk_skb/stream_parser")
int skb_parser(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("sk_skb/stream_verdict")
int skb_verdict(struct __sk_buff *skb)
{
	__u32 key = 0;

	bpf_perf_event_output(skb, &perf_events, BPF_F_CURRENT_CPU, &key, sizeof(key));
	return bpf_sk_redirect_map(skb, &sock_map, key, 0);
}

SEC("sk_skb/verdict")
int skb_verdict_only(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("sk_skb")
int skb_untyped(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("sockops")
int sockops_insert(struct bpf_sock_ops *ops)
{
	__u32 key = ops->remote_port;

	if (ops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB ||
	    ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		bpf_sock_hash_update(ops, &sock_hash, &key, BPF_NOEXIST);
	return 1;
}

char _license[] SEC("license") = "GPL";
