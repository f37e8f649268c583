// Map type against helper: each helper takes only some map types, and a
// program type may use only some map types at all.
#include "corpus.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, 4);
	__uint(value_size, 4);
} perf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__uint(value_size, 8);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 4);
	__uint(value_size, 8);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 4);
} progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sk_store SEC(".maps");

MSG(msg_map_ok_redirect_map_sockmap) { return bpf_msg_redirect_map(msg, &sock_map, 0, 0); }
MSG(msg_map_bad_redirect_map_sockhash) { return bpf_msg_redirect_map(msg, &sock_hash, 0, 0); }
MSG(msg_map_bad_redirect_map_array) { return bpf_msg_redirect_map(msg, &arr16, 0, 0); }
MSG(msg_map_ok_redirect_hash_sockhash) { __u32 k = 0; return bpf_msg_redirect_hash(msg, &sock_hash, &k, 0); }
MSG(msg_map_bad_redirect_hash_sockmap) { __u32 k = 0; return bpf_msg_redirect_hash(msg, &sock_map, &k, 0); }
SVERDICT(skb_map_ok_redirect_map_sockmap) { return bpf_sk_redirect_map(skb, &sock_map, 0, 0); }
SVERDICT(skb_map_bad_redirect_map_sockhash) { return bpf_sk_redirect_map(skb, &sock_hash, 0, 0); }
VERDICT(skb_map_bad_redirect_hash_sockmap) { __u32 k = 0; return bpf_sk_redirect_hash(skb, &sock_map, &k, 0); }
VERDICT(skb_map_bad_redirect_map_hash) { return bpf_sk_redirect_map(skb, &hash64, 0, 0); }
SOCKOPS(sockops_map_bad_map_update_sockhash) { __u32 k = 0; return bpf_sock_map_update(skops, &sock_hash, &k, 0); }
SOCKOPS(sockops_map_bad_hash_update_sockmap) { __u32 k = 0; return bpf_sock_hash_update(skops, &sock_map, &k, 0); }
SOCKOPS(sockops_map_bad_map_update_array) { __u32 k = 0; return bpf_sock_map_update(skops, &arr16, &k, 0); }

/* lookups in socket maps hand out a socket reference */
SVERDICT(skb_map_lookup_sockmap)
{
	__u32 k = 0;
	struct bpf_sock *sk = bpf_map_lookup_elem(&sock_map, &k);
	if (sk)
		bpf_sk_release(sk);
	return 1;
}

SVERDICT(skb_map_lookup_sockmap_no_release)
{
	__u32 k = 0;
	struct bpf_sock *sk = bpf_map_lookup_elem(&sock_map, &k);
	return sk != 0;
}

MSG(msg_map_update_sockmap_from_msg)
{
	__u32 k = 0;
	__u64 v = 0;
	return bpf_map_update_elem(&sock_map, &k, &v, BPF_ANY) == 0;
}

MSG(msg_map_delete_sockmap)
{
	__u32 k = 0;
	return bpf_map_delete_elem(&sock_map, &k) == 0;
}

/* ring buffer, perf event array, queue, stack */
MSG(msg_map_ok_ringbuf_output) { __u64 v = 1; return bpf_ringbuf_output(&rb, &v, sizeof(v), 0) == 0; }
MSG(msg_map_bad_ringbuf_output_hash) { __u64 v = 1; return bpf_ringbuf_output(&hash64, &v, sizeof(v), 0) == 0; }
SVERDICT(skb_map_ok_perf_output) { __u64 v = 1; return bpf_perf_event_output(skb, &perf, BPF_F_CURRENT_CPU, &v, sizeof(v)) == 0; }
SVERDICT(skb_map_bad_perf_output_array) { __u64 v = 1; return bpf_perf_event_output(skb, &arr16, BPF_F_CURRENT_CPU, &v, sizeof(v)) == 0; }
MSG(msg_map_perf_output) { __u64 v = 1; return bpf_perf_event_output(msg, &perf, BPF_F_CURRENT_CPU, &v, sizeof(v)) == 0; }
SOCKOPS(sockops_map_ok_perf_output) { __u64 v = 1; return bpf_perf_event_output(skops, &perf, BPF_F_CURRENT_CPU, &v, sizeof(v)) == 0; }
VERDICT(skb_map_ok_queue_push) { __u64 v = 1; return bpf_map_push_elem(&queue, &v, 0) == 0; }
VERDICT(skb_map_bad_push_array) { __u64 v = 1; return bpf_map_push_elem(&hash64, &v, 0) == 0; }
PARSER(skb_map_ok_stack_peek) { __u64 v; bpf_map_peek_elem(&stack, &v); return skb->len; }
PARSER(skb_map_bad_peek_hash) { __u64 v; bpf_map_peek_elem(&hash64, &v); return skb->len; }
MSG(msg_map_bad_lookup_prog_array) { __u32 k = 0; return bpf_map_lookup_elem(&progs, &k) != 0; }
MSG(msg_map_bad_lookup_ringbuf) { __u32 k = 0; return bpf_map_lookup_elem(&rb, &k) != 0; }
SVERDICT(skb_map_bad_lookup_perf) { __u32 k = 0; return bpf_map_lookup_elem(&perf, &k) != 0; }
SVERDICT(skb_map_bad_lookup_queue) { __u64 k = 0; return bpf_map_lookup_elem(&queue, &k) != 0; }
SVERDICT(skb_map_bad_tail_call_array) { bpf_tail_call(skb, &arr16, 0); return 1; }

/* socket local storage takes a socket, and only an sk_storage map */
SOCKOPS(sockops_map_ok_sk_storage)
{
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return 1;
	__u64 *v = bpf_sk_storage_get(&sk_store, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (v)
		*v += 1;
	return 1;
}

SOCKOPS(sockops_map_bad_sk_storage_array)
{
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return 1;
	__u64 *v = bpf_sk_storage_get(&arr16, sk, 0, 0);
	return v != 0;
}

SOCKOPS(sockops_map_bad_sk_storage_null_sk)
{
	__u64 *v = bpf_sk_storage_get(&sk_store, skops->sk, 0, 0);
	return v != 0;
}

MSG(msg_map_sk_storage_msg_sk)
{
	struct bpf_sock *sk = msg->sk;
	if (!sk)
		return 1;
	__u64 *v = bpf_sk_storage_get(&sk_store, sk, 0, 0);
	return v != 0;
}
