// bpf-to-bpf calls: arguments and return values across frames, the
// callee's stack, global functions verified on their own, call depth and
// combined stack size, recursion.
#include "corpus.h"

static __attribute__((noinline)) int add(int a, int b)
{
	return a + b;
}

static __attribute__((noinline)) int first_byte(struct __sk_buff *skb)
{
	void *d = SKB_DATA(skb), *e = SKB_END(skb);
	if (d + 1 > e)
		return 0;
	return *(__u8 *)d;
}

static __attribute__((noinline)) int fill(__u64 *p)
{
	p[0] = 1;
	p[1] = 2;
	return 0;
}

static __attribute__((noinline)) int fill_past(__u64 *p)
{
	p[2] = 3;
	return 0;
}

MSG(msg_call_ok_scalar) { return add(msg->size, 1) & 1; }
SVERDICT(sverdict_call_ok_ctx_packet) { return first_byte(skb) == 7; }
SOCKOPS(sockops_call_ok_caller_stack)
{
	__u64 buf[2];
	fill(buf);
	return buf[0] + buf[1] == 3;
}

/* the callee writes past the caller's 16-byte buffer: still inside the
 * caller's frame (the next slot), which the kernel allows */
VERDICT(verdict_call_fill_past_buffer)
{
	__u64 buf[2] = {};
	fill_past(buf);
	return buf[0] == 0;
}

/* a global function is verified alone, with its arguments' types only */
__attribute__((noinline)) int global_len(struct __sk_buff *skb)
{
	if (!skb)
		return 0;
	return skb->len;
}

__attribute__((noinline)) int global_deref(int *p)
{
	return *p;
}

__attribute__((noinline)) int global_deref_checked(int *p)
{
	if (!p)
		return 0;
	return *p;
}

PARSER(parser_call_ok_global_ctx) { return global_len(skb); }
SVERDICT(sverdict_call_bad_global_unchecked_arg)
{
	int x = 1;
	return global_deref(&x);
}
VERDICT(verdict_call_ok_global_checked_arg)
{
	int x = 1;
	return global_deref_checked(&x);
}

/* Callees written as instructions live in .text as their own functions:
 * cilium/ebpf links bpf-to-bpf calls by symbol. */
#define SUB(name, body)                                                       \
	__attribute__((naked, used, noinline)) static void name(void)          \
	{                                                                      \
		asm volatile(body ::: __clobber_all);                          \
	}

SUB(sub_ret_stack, "r0 = r10; r0 += -8; exit;")
SUB(sub_reads_r6, "r0 = r6; exit;")
SUB(sub_ret0, "r0 = 0; exit;")
SUB(sub_ping, "call sub_pong; r0 = 0; exit;")
SUB(sub_pong, "call sub_ping; r0 = 0; exit;")
SUB(sub_d7, "r0 = 0; exit;")
SUB(sub_d6, "call sub_d7; exit;")
SUB(sub_d5, "call sub_d6; exit;")
SUB(sub_d4, "call sub_d5; exit;")
SUB(sub_d3, "call sub_d4; exit;")
SUB(sub_d2, "call sub_d3; exit;")
SUB(sub_d1, "call sub_d2; exit;")
SUB(sub_e8, "r0 = 0; exit;")
SUB(sub_e7, "call sub_e8; exit;")
SUB(sub_e6, "call sub_e7; exit;")
SUB(sub_e5, "call sub_e6; exit;")
SUB(sub_e4, "call sub_e5; exit;")
SUB(sub_e3, "call sub_e4; exit;")
SUB(sub_e2, "call sub_e3; exit;")
SUB(sub_e1, "call sub_e2; exit;")
SUB(sub_stack256, "r1 = 0; *(u64 *)(r10 - 256) = r1; r0 = 0; exit;")
SUB(sub_no_r0, "exit;")

#define CALLER(sec, name, body)                                                \
	NAKED(sec, name)                                                       \
	{                                                                      \
		asm volatile(body ::: __clobber_all);                          \
	}

/* the callee returns a pointer to its own stack */
CALLER("sk_msg", msg_call_bad_return_stack_ptr, "call sub_ret_stack; r0 = 1; exit;")
/* the callee reads the caller's r6, which it does not have */
CALLER("sk_skb/stream_verdict", sverdict_call_bad_callee_reads_r6, "r6 = 1; call sub_reads_r6; exit;")
/* r6 survives the call in the caller */
CALLER("sk_skb/stream_verdict", sverdict_call_ok_r6_preserved, "r6 = 1; call sub_ret0; r0 = r6; exit;")
/* r1 does not survive the call in the caller */
CALLER("sk_skb/verdict", verdict_call_bad_r1_after_call, "r1 = 1; call sub_ret0; r0 = r1; exit;")
/* two callees calling each other */
CALLER("sockops", sockops_call_bad_recursion, "call sub_ping; r0 = 1; exit;")
/* eight frames, the most the kernel allows, and nine */
CALLER("sk_msg", msg_call_ok_depth_8, "call sub_d1; r0 = 1; exit;")
CALLER("sk_msg", msg_call_bad_depth_9, "call sub_e1; r0 = 1; exit;")
/* 384 bytes in the caller plus 256 in the callee, and 256 + 256 */
CALLER("sk_skb/stream_parser", parser_call_bad_combined_stack,
       "r1 = 0; *(u64 *)(r10 - 384) = r1; call sub_stack256; r0 = 0; exit;")
CALLER("sk_skb/stream_parser", parser_call_ok_combined_stack_512,
       "r1 = 0; *(u64 *)(r10 - 256) = r1; call sub_stack256; r0 = 0; exit;")
/* the callee does not set r0 */
CALLER("sk_msg", msg_call_bad_callee_no_r0, "call sub_no_r0; exit;")

/* the callee gets a pointer to the caller's stack and reads it back */
static __attribute__((noinline)) __u64 read_slot(__u64 *p)
{
	return *p;
}

MSG(msg_call_ok_read_caller_slot)
{
	__u64 v = msg->size;
	return read_slot(&v) & 1;
}

/* an uninitialised slot of the caller: privileged loads may read it */
MSG(msg_call_read_caller_uninit)
{
	__u64 v;
	asm volatile("" : "=m"(v));
	return read_slot(&v) & 1;
}
