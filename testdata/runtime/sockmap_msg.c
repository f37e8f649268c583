// sk_msg programs for the runtime's tests and benchmarks, modelled on the
// kernel selftests' test_sockmap_kern.h: one object covers the matrix of
// pass / redirect egress / redirect ingress / drop crossed with
// apply_bytes, cork_bytes, pull, push and pop, read from the conf array.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 20);
	__type(key, __u32);
	__type(value, __u32);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 20);
	__type(key, __u32);
	__type(value, __u32);
} sock_hash SEC(".maps");

// A sockmap with 8-byte values: user-space lookups return cookies.
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_map8 SEC(".maps");

enum { MODE_PASS, MODE_EGRESS, MODE_INGRESS, MODE_DROP };

struct conf {
	__u32 mode;
	__u32 key;      // redirect target key
	__u32 use_hash; // redirect through sock_hash instead of sock_map
	__u32 apply;
	__u32 cork;
	__u32 pull_start, pull_end;
	__u32 push_start, push_len;
	__u32 pop_start, pop_len;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conf);
} conf_map SEC(".maps");

// What the last run saw, and how often programs ran.
struct result {
	__u64 runs;
	__u32 size;      // msg->size at entry
	__u32 size_out;  // msg->size before returning
	__s32 pull_err, push_err, pop_err;
	__u32 data_len;  // data_end - data at entry
	__u32 local_port, remote_port, family;
	__u32 sk_state, sk_dst_port, sk_src_port;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct result);
} result_map SEC(".maps");

SEC("sk_msg")
int msg_prog(struct sk_msg_md *msg)
{
	__u32 zero = 0;
	struct conf *c = bpf_map_lookup_elem(&conf_map, &zero);
	struct result *r = bpf_map_lookup_elem(&result_map, &zero);
	void *data = msg->data, *data_end = msg->data_end;
	struct bpf_sock *sk = msg->sk;
	__u64 flags = 0;
	int ret;

	if (!c || !r)
		return SK_DROP;
	r->runs++;
	r->size = msg->size;
	r->data_len = data_end - data;
	r->local_port = msg->local_port;
	r->remote_port = msg->remote_port;
	r->family = msg->family;
	r->sk_state = sk->state;
	r->sk_dst_port = sk->dst_port;
	r->sk_src_port = sk->src_port;

	if (c->apply)
		bpf_msg_apply_bytes(msg, c->apply);
	if (c->cork)
		bpf_msg_cork_bytes(msg, c->cork);
	if (c->pull_end)
		r->pull_err = bpf_msg_pull_data(msg, c->pull_start, c->pull_end, 0);
	if (c->push_len)
		r->push_err = bpf_msg_push_data(msg, c->push_start, c->push_len, 0);
	if (c->pop_len)
		r->pop_err = bpf_msg_pop_data(msg, c->pop_start, c->pop_len, 0);
	r->size_out = msg->size;

	switch (c->mode) {
	case MODE_PASS:
		return SK_PASS;
	case MODE_DROP:
		return SK_DROP;
	case MODE_INGRESS:
		flags = BPF_F_INGRESS;
		/* fall through */
	default:
		if (c->use_hash)
			ret = bpf_msg_redirect_hash(msg, &sock_hash, &c->key, flags);
		else
			ret = bpf_msg_redirect_map(msg, &sock_map, c->key, flags);
		return ret;
	}
}

// Plain pass, for benchmarks.
SEC("sk_msg")
int msg_pass(struct sk_msg_md *msg)
{
	return SK_PASS;
}

// Redirect to key 0 of sock_map, egress or ingress, for benchmarks.
SEC("sk_msg")
int msg_redir_egress(struct sk_msg_md *msg)
{
	return bpf_msg_redirect_map(msg, &sock_map, 0, 0);
}

SEC("sk_msg")
int msg_redir_ingress(struct sk_msg_md *msg)
{
	return bpf_msg_redirect_map(msg, &sock_map, 0, BPF_F_INGRESS);
}

// Refused by the verifier: sk_msg_md is read-only.
SEC("sk_msg")
int msg_bad_store(struct sk_msg_md *msg)
{
	msg->size = 1;
	return SK_PASS;
}

// Refused by the verifier: narrow load of a u32 field.
SEC("sk_msg")
int msg_bad_narrow(struct sk_msg_md *msg)
{
	return *(volatile __u8 *)&msg->local_port == 1 ? SK_PASS : SK_DROP;
}

// Refused by the verifier: get_socket_cookie is not an sk_msg helper.
SEC("sk_msg")
int msg_bad_helper(struct sk_msg_md *msg)
{
	return bpf_get_socket_cookie(msg) ? SK_PASS : SK_DROP;
}

// sk_skb programs for the attach rules (slot conflicts, replace, detach).
SEC("sk_skb/stream_parser")
int skb_parser(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("sk_skb/stream_verdict")
int skb_stream_verdict(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("sk_skb/verdict")
int skb_verdict(struct __sk_buff *skb)
{
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
