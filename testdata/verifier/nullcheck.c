// NULL checks: map lookups, socket lookups, sock_ops' sk and the tcp_sock
// helpers return pointers that may be NULL until a comparison says not.
#include "corpus.h"

MSG(msg_constkey_lookup_no_check)
{
	__u32 k = 0;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	return v->b[0] == 1;
}

MSG(msg_lookup_ok_checked)
{
	__u32 k = 0;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	if (!v)
		return 1;
	return v->b[0] == 1;
}

/* the check is on the wrong branch */
MSG(msg_constkey_lookup_inverted)
{
	__u32 k = 0;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	if (v)
		return 1;
	return *(volatile __u8 *)v == 1;
}

/* a copy of the pointer is checked: the verifier links both by id */
MSG(msg_lookup_ok_copy_checked)
{
	__u32 k = 0;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	struct val16 *volatile w = v;
	struct val16 *x = w;
	if (!v)
		return 1;
	return x->b[1] == 1;
}

/* two lookups, only the first checked */
SVERDICT(sverdict_lookup_bad_second_unchecked)
{
	__u32 k = 0;
	__u64 h = 1;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	__u64 *w = bpf_map_lookup_elem(&hash64, &h);
	if (!v)
		return 1;
	return v->b[0] + *w;
}

SVERDICT(sverdict_lookup_ok_both_checked)
{
	__u32 k = 0;
	__u64 h = 1;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	__u64 *w = bpf_map_lookup_elem(&hash64, &h);
	if (!v || !w)
		return 1;
	return v->b[0] + *w;
}

/* hash lookups may miss: no NULL check is a refusal too */
SOCKOPS(sockops_hash_bad_no_check)
{
	__u64 h = skops->op;
	__u64 *w = bpf_map_lookup_elem(&hash64, &h);
	return *w == 1;
}

SOCKOPS(sockops_hash_ok_checked)
{
	__u64 h = skops->op;
	__u64 *w = bpf_map_lookup_elem(&hash64, &h);
	if (!w)
		return 1;
	return *w == 1;
}

/* writes through a NULL-able pointer */
VERDICT(verdict_constkey_lookup_write_unchecked)
{
	__u32 k = 0;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	v->b[3] = 1;
	return 1;
}

VERDICT(verdict_lookup_ok_write_checked)
{
	__u32 k = 0;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	if (v)
		v->b[3] = 1;
	return 1;
}

/* comparing with NULL after the use is too late */
PARSER(parser_constkey_lookup_check_after_use)
{
	__u32 k = 0;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	int x = *(volatile __u8 *)v;
	if (!v)
		return 0;
	return x;
}

/* socket lookups (sk_skb may call them) */
static __always_inline struct bpf_sock *lookup(struct __sk_buff *skb)
{
	struct bpf_sock_tuple t = {};
	t.ipv4.dport = bpf_htons(80);
	return bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
}

SVERDICT(sverdict_sk_lookup_ok_checked)
{
	struct bpf_sock *sk = lookup(skb);
	if (!sk)
		return 1;
	int fam = sk->family;
	bpf_sk_release(sk);
	return fam == 2;
}

SVERDICT(sverdict_sk_lookup_bad_deref_unchecked)
{
	struct bpf_sock *sk = lookup(skb);
	int fam = sk->family;
	if (sk)
		bpf_sk_release(sk);
	return fam == 2;
}

VERDICT(verdict_sk_lookup_bad_release_unchecked)
{
	struct bpf_sock *sk = lookup(skb);
	bpf_sk_release(sk);
	return 1;
}

VERDICT(verdict_sk_lookup_ok_release_checked)
{
	struct bpf_sock *sk = lookup(skb);
	if (sk)
		bpf_sk_release(sk);
	return 1;
}

/* sk_msg's sk field */
MSG(msg_sk_field_ok_checked)
{
	struct bpf_sock *sk = msg->sk;
	if (!sk)
		return 1;
	return sk->family == 2;
}

MSG(msg_sk_field_ok_unchecked)
{
	struct bpf_sock *sk = msg->sk;
	return sk->family == 2;
}

/* sock_ops' sk field and bpf_tcp_sock */
SOCKOPS(sockops_sk_ok_checked)
{
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return 1;
	return sk->protocol == 6;
}

SOCKOPS(sockops_sk_bad_unchecked)
{
	struct bpf_sock *sk = skops->sk;
	return sk->protocol == 6;
}

SOCKOPS(sockops_tcp_sock_ok_checked)
{
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return 1;
	struct bpf_tcp_sock *tp = bpf_tcp_sock(sk);
	if (!tp)
		return 1;
	return tp->snd_cwnd > 10;
}

SOCKOPS(sockops_tcp_sock_bad_unchecked)
{
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return 1;
	struct bpf_tcp_sock *tp = bpf_tcp_sock(sk);
	return tp->snd_cwnd > 10;
}

SOCKOPS(sockops_tcp_sock_bad_arg_unchecked)
{
	struct bpf_tcp_sock *tp = bpf_tcp_sock(skops->sk);
	if (!tp)
		return 1;
	return tp->snd_cwnd > 10;
}

/* a NULL check through a 32-bit comparison does not count (asm: clang
 * always compares the whole register) */
NAKED("sk_msg", msg_constkey_lookup_check_w32)
{
	asm volatile("r1 = 0;"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "if w0 == 0 goto l0_%=;"
		     "r0 = *(u8 *)(r0 + 0);"
		     "l0_%=:"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}

/* checked with the 64-bit comparison: the same program accepted */
NAKED("sk_msg", msg_lookup_ok_check_r64)
{
	asm volatile("r1 = 0;"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "if r0 == 0 goto l0_%=;"
		     "r0 = *(u8 *)(r0 + 0);"
		     "l0_%=:"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}

/* arithmetic on a pointer that may be NULL is refused before any use */
NAKED("sk_skb/stream_verdict", sverdict_constkey_lookup_arith_before_check)
{
	asm volatile("r1 = 0;"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "r0 += 4;"
		     "if r0 == 0 goto l0_%=;"
		     "r0 = *(u8 *)(r0 + 0);"
		     "l0_%=:"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}

/* Array lookups with a constant in-range key cannot fail: the kernel
 * types them non-NULL. With a key it cannot see, they may be NULL. */
#define VARKEY(DECL, name, LEN)                                               \
	DECL(name##_varkey_bad_no_check) {                                     \
		__u32 k = LEN;                                                 \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		return v->b[0] == 1;                                           \
	}                                                                      \
	DECL(name##_varkey_ok_checked) {                                       \
		__u32 k = LEN;                                                 \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		return v->b[0] == 1;                                           \
	}                                                                      \
	DECL(name##_varkey_bad_inverted) {                                     \
		__u32 k = LEN;                                                 \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (v)                                                         \
			return 1;                                              \
		return *(volatile __u8 *)v == 1;                               \
	}                                                                      \
	DECL(name##_varkey_bad_write_unchecked) {                              \
		__u32 k = LEN;                                                 \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		v->b[3] = 1;                                                   \
		return 1;                                                      \
	}

VARKEY(MSG, msg, msg->size)
VARKEY(PARSER, parser, skb->len)
VARKEY(VERDICT, verdict, skb->len)
VARKEY(SOCKOPS, sockops, skops->op)

/* the constant key is out of range: back to maybe-NULL */
MSG(msg_constkey_out_of_range_no_check)
{
	__u32 k = 4;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	return v->b[0] == 1;
}

NAKED("sk_msg", msg_varkey_bad_check_w32)
{
	asm volatile("r1 = *(u32 *)(r1 + 68);"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "if w0 == 0 goto l0_%=;"
		     "r0 = *(u8 *)(r0 + 0);"
		     "l0_%=:"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}

NAKED("sk_skb/stream_verdict", sverdict_varkey_bad_arith_before_check)
{
	asm volatile("r1 = *(u32 *)(r1 + 0);"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "r0 += 4;"
		     "if r0 == 0 goto l0_%=;"
		     "r0 = *(u8 *)(r0 + 0);"
		     "l0_%=:"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}
