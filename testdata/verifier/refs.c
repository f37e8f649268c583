// Reference tracking: every acquired socket and ring buffer record must be
// released on every path, exactly once, and not used after release.
#include "corpus.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

static __always_inline struct bpf_sock *lookup(struct __sk_buff *skb)
{
	struct bpf_sock_tuple t = {};
	t.ipv4.dport = bpf_htons(80);
	return bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
}

SVERDICT(skb_ref_bad_no_release)
{
	struct bpf_sock *sk = lookup(skb);
	return sk != 0;
}

VERDICT(skb_ref_bad_release_one_branch)
{
	struct bpf_sock *sk = lookup(skb);
	if (!sk)
		return 1;
	if (skb->len > 10)
		bpf_sk_release(sk);
	return 1;
}

SVERDICT(skb_ref_bad_double_release)
{
	struct bpf_sock *sk = lookup(skb);
	if (!sk)
		return 1;
	bpf_sk_release(sk);
	bpf_sk_release(sk);
	return 1;
}

PARSER(skb_ref_bad_use_after_release)
{
	struct bpf_sock *sk = lookup(skb);
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return sk->family;
}

PARSER(skb_ref_ok_parser_released)
{
	struct bpf_sock *sk = lookup(skb);
	if (sk)
		bpf_sk_release(sk);
	return skb->len;
}

SVERDICT(skb_ref_ok_skc_lookup)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (sk)
		bpf_sk_release(sk);
	return 1;
}

SVERDICT(skb_ref_bad_udp_no_release)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk = bpf_sk_lookup_udp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	return sk != 0;
}

/* the tuple size must be one of the two tuple sizes */
SVERDICT(skb_ref_tuple_size_checked_at_run_time)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk = bpf_sk_lookup_tcp(skb, &t, 7, BPF_F_CURRENT_NETNS, 0);
	if (sk)
		bpf_sk_release(sk);
	return 1;
}

/* two references, one leaked */
VERDICT(skb_ref_bad_two_one_leaked)
{
	struct bpf_sock *a = lookup(skb);
	struct bpf_sock *b = lookup(skb);
	if (a)
		bpf_sk_release(a);
	return b != 0;
}

VERDICT(skb_ref_ok_two_released)
{
	struct bpf_sock *a = lookup(skb);
	struct bpf_sock *b = lookup(skb);
	if (a)
		bpf_sk_release(a);
	if (b)
		bpf_sk_release(b);
	return 1;
}

/* ring buffer records, in every program kind */
#define RINGBUF_SET(DECL, pfx, RET)                                           \
	DECL(pfx##_rb_ok_submit) {                                             \
		__u64 *r = bpf_ringbuf_reserve(&rb, 8, 0);                     \
		if (!r)                                                        \
			return RET;                                            \
		*r = 1;                                                        \
		bpf_ringbuf_submit(r, 0);                                      \
		return RET;                                                    \
	}                                                                      \
	DECL(pfx##_rb_ok_discard) {                                            \
		__u64 *r = bpf_ringbuf_reserve(&rb, 8, 0);                     \
		if (r)                                                         \
			bpf_ringbuf_discard(r, 0);                             \
		return RET;                                                    \
	}                                                                      \
	DECL(pfx##_rb_bad_leak) {                                              \
		__u64 *r = bpf_ringbuf_reserve(&rb, 8, 0);                     \
		if (!r)                                                        \
			return RET;                                            \
		*r = 1;                                                        \
		return RET;                                                    \
	}                                                                      \
	DECL(pfx##_rb_bad_submit_unchecked) {                                  \
		__u64 *r = bpf_ringbuf_reserve(&rb, 8, 0);                     \
		bpf_ringbuf_submit(r, 0);                                      \
		return RET;                                                    \
	}                                                                      \
	DECL(pfx##_rb_bad_write_past) {                                        \
		__u64 *r = bpf_ringbuf_reserve(&rb, 8, 0);                     \
		if (!r)                                                        \
			return RET;                                            \
		r[1] = 1;                                                      \
		bpf_ringbuf_submit(r, 0);                                      \
		return RET;                                                    \
	}                                                                      \
	DECL(pfx##_rb_bad_use_after_submit) {                                  \
		__u64 *r = bpf_ringbuf_reserve(&rb, 8, 0);                     \
		if (!r)                                                        \
			return RET;                                            \
		bpf_ringbuf_submit(r, 0);                                      \
		*(volatile __u64 *)r = 1;                                      \
		return RET;                                                    \
	}

RINGBUF_SET(MSG, msg, 1)
RINGBUF_SET(SVERDICT, sverdict, 1)
RINGBUF_SET(SOCKOPS, sockops, 1)

/* the reserved size must be a known constant */
MSG(msg_rb_bad_variable_size)
{
	__u64 *r = bpf_ringbuf_reserve(&rb, msg->size & 63, 0);
	if (r)
		bpf_ringbuf_submit(r, 0);
	return 1;
}

VERDICT(verdict_rb_bad_leak_one_branch)
{
	__u64 *r = bpf_ringbuf_reserve(&rb, 8, 0);
	if (!r)
		return 1;
	if (skb->len > 100)
		return 0;
	bpf_ringbuf_submit(r, 0);
	return 1;
}
