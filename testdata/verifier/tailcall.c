// Tail calls and return values.
#include "corpus.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 4);
} progs SEC(".maps");

MSG(msg_tail_ok) { bpf_tail_call(msg, &progs, 0); return 1; }
SVERDICT(sverdict_tail_ok) { bpf_tail_call(skb, &progs, 1); return 1; }
VERDICT(verdict_tail_ok_var_index) { bpf_tail_call(skb, &progs, skb->len & 3); return 1; }
PARSER(parser_tail_ok) { bpf_tail_call(skb, &progs, 2); return skb->len; }
SOCKOPS(sockops_tail_ok) { bpf_tail_call(skops, &progs, 3); return 1; }
SOCKOPS(sockops_tail_bad_hash_map) { bpf_tail_call(skops, &hash64, 0); return 1; }

/* the first argument must be the context */
NAKED("sk_msg", msg_tail_bad_not_ctx)
{
	asm volatile("r1 = r10;"
		     "r1 += -8;"
		     "r2 = %[progs] ll;"
		     "r3 = 0;"
		     "call 12;"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(progs)
		     : __clobber_all);
}

/* a tail call while holding a socket reference */
SVERDICT(sverdict_tail_bad_holding_ref)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	bpf_tail_call(skb, &progs, 0);
	if (sk)
		bpf_sk_release(sk);
	return 1;
}

/* a tail call from a subprogram */
static __attribute__((noinline)) int tail_from_sub(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &progs, 0);
	return 1;
}

VERDICT(verdict_tail_from_subprog) { return tail_from_sub(skb); }

/* return values: what each program type may return at exit */
#define RET(sec, name, val)                                                    \
	NAKED(sec, name)                                                       \
	{                                                                      \
		asm volatile("r0 = " #val ";"                                  \
			     "exit;" ::: __clobber_all);                       \
	}

RET("sk_msg", msg_ret_0, 0)
RET("sk_msg", msg_ret_1, 1)
RET("sk_msg", msg_ret_2, 2)
RET("sk_msg", msg_ret_minus1, -1)
RET("sk_skb/stream_verdict", sverdict_ret_2, 2)
RET("sk_skb/stream_verdict", sverdict_ret_minus1, -1)
RET("sk_skb/verdict", verdict_ret_7, 7)
RET("sk_skb/stream_parser", parser_ret_minus1, -1)
RET("sk_skb/stream_parser", parser_ret_big, 0x7fffffff)
RET("sockops", sockops_ret_0, 0)
RET("sockops", sockops_ret_2, 2)
RET("sockops", sockops_ret_minus1, -1)

/* returning a pointer: privileged loads may leak addresses */
NAKED("sk_msg", msg_ret_ctx_pointer)
{
	asm volatile("r0 = r1;"
		     "exit;" ::: __clobber_all);
}

NAKED("sockops", sockops_ret_stack_pointer)
{
	asm volatile("r0 = r10;"
		     "exit;" ::: __clobber_all);
}

/* the return register set on one path only */
NAKED("sk_skb/verdict", verdict_ret_bad_one_path_unset)
{
	asm volatile("r2 = *(u32 *)(r1 + 0);"
		     "if r2 > 10 goto l0_%=;"
		     "r0 = 1;"
		     "l0_%=:"
		     "exit;" ::: __clobber_all);
}

/* a pointer stored into a map value: privileged loads may do it */
SVERDICT(sverdict_leak_ptr_into_map)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&arr16, &k);
	if (!v)
		return 1;
	*v = (__u64)skb;
	return 1;
}
