// Loops: bounded loops the verifier walks to the end, unbounded ones it
// refuses (infinite loop, or the complexity limit), bpf_loop and
// bpf_for_each_map_elem callbacks with their return-value rule.
#include "corpus.h"

MSG(msg_loop_ok_bounded_16)
{
	__u32 sum = 0;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < OPAQUE(16u) && i < 16; i++)
		sum += i;
	return sum & 1;
}

SVERDICT(sverdict_loop_ok_bounded_1000)
{
	__u32 sum = 0;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < 1000; i++)
		sum += OPAQUE(i);
	return sum & 1;
}

/* the bound comes from the packet length: 4 billion iterations to walk */
SVERDICT(sverdict_loop_bad_unbounded_len)
{
	__u32 sum = 0;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < skb->len; i++)
		sum += OPAQUE(i);
	return sum & 1;
}

/* the same bound clamped: the verifier walks 64 iterations */
SVERDICT(sverdict_loop_ok_clamped_len)
{
	__u32 sum = 0, n = skb->len & 63;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < n; i++)
		sum += OPAQUE(i);
	return sum & 1;
}

/* a loop over the packet bytes with a bounds check each iteration */
PARSER(parser_loop_ok_packet_scan)
{
	void *d = SKB_DATA(skb), *e = SKB_END(skb);
	__u32 n = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 32; i++) {
		if (d + i + 1 > e)
			break;
		if (*(__u8 *)(d + i) == '\n')
			return i + 1;
		n++;
	}
	return n ? 0 : skb->len;
}

/* goto self: the verifier sees the same state again */
NAKED("sk_msg", msg_loop_bad_infinite)
{
	asm volatile("r0 = 1;"
		     "l0_%=:"
		     "goto l0_%=;" ::: __clobber_all);
}

/* a loop whose counter never changes */
NAKED("sockops", sockops_loop_bad_counter_constant)
{
	asm volatile("r1 = 0;"
		     "l0_%=:"
		     "r0 = 1;"
		     "if r1 < 10 goto l0_%=;"
		     "exit;" ::: __clobber_all);
}

/* the counter moves the wrong way: it never reaches the bound */
NAKED("sk_skb/verdict", verdict_loop_bad_counter_wrong_way)
{
	asm volatile("r1 = 0;"
		     "l0_%=:"
		     "r1 += -1;"
		     "if r1 s< 10 goto l0_%=;"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}

NAKED("sk_skb/verdict", verdict_loop_ok_counter_up)
{
	asm volatile("r1 = 0;"
		     "l0_%=:"
		     "r1 += 1;"
		     "if r1 < 10 goto l0_%=;"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}

/* 32-bit counter bounded by a 32-bit compare */
NAKED("sk_skb/stream_parser", parser_loop_ok_w32_counter)
{
	asm volatile("w2 = 0;"
		     "l0_%=:"
		     "w2 += 1;"
		     "if w2 < 20 goto l0_%=;"
		     "r0 = *(u32 *)(r1 + 0);"
		     "exit;" ::: __clobber_all);
}

/* bpf_loop: the callback is a static function taking (index, ctx) */
struct loop_ctx {
	__u64 sum;
};

static int add_cb(__u32 i, void *c)
{
	((struct loop_ctx *)c)->sum += i;
	return 0;
}

static int stop_cb(__u32 i, void *c)
{
	return i > 4;
}

MSG(msg_bpf_loop_ok)
{
	struct loop_ctx c = {};
	bpf_loop(100, add_cb, &c, 0);
	return c.sum & 1;
}

SOCKOPS(sockops_bpf_loop_ok_stop)
{
	bpf_loop(skops->op, stop_cb, 0, 0);
	return 1;
}

VERDICT(verdict_bpf_loop_flags_checked_at_run_time)
{
	struct loop_ctx c = {};
	bpf_loop(100, add_cb, &c, 1);
	return c.sum & 1;
}

/* a callback may return only 0 (continue) or 1 (stop) */
static int bad_ret_cb(__u32 i, void *c)
{
	return 2;
}

SVERDICT(sverdict_bpf_loop_bad_callback_ret)
{
	bpf_loop(10, bad_ret_cb, 0, 0);
	return 1;
}

/* the callback dereferences its ctx, but the caller passed NULL */
SVERDICT(sverdict_bpf_loop_bad_null_ctx)
{
	bpf_loop(10, add_cb, 0, 0);
	return 1;
}

/* the callback writes past the loop ctx it was given */
static int past_cb(__u32 i, void *c)
{
	((__u64 *)c)[1] = i;
	return 0;
}

PARSER(parser_bpf_loop_bad_ctx_overflow)
{
	__u64 one = 0;
	bpf_loop(4, past_cb, &one, 0);
	return skb->len;
}

/* bpf_for_each_map_elem over an array */
static long each_cb(void *map, __u32 *key, struct val16 *val, void *c)
{
	return val->b[0] > 3;
}

static long each_bad_cb(void *map, __u32 *key, struct val16 *val, void *c)
{
	return ((volatile __u8 *)val)[16];
}

MSG(msg_for_each_ok)
{
	bpf_for_each_map_elem(&arr16, each_cb, 0, 0);
	return 1;
}

MSG(msg_for_each_bad_value_past)
{
	bpf_for_each_map_elem(&arr16, each_bad_cb, 0, 0);
	return 1;
}

/* the loop count comes from the packet: bounded by bpf_loop, fine */
PARSER(parser_bpf_loop_ok_packet_count)
{
	struct loop_ctx c = {};
	bpf_loop(skb->len, add_cb, &c, 0);
	return skb->len;
}

/* a nested bounded loop, 8x8 */
SVERDICT(sverdict_loop_ok_nested)
{
	__u32 sum = 0;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < 8; i++) {
#pragma clang loop unroll(disable)
		for (__u32 j = 0; j < 8; j++)
			sum += OPAQUE(i * j);
	}
	return sum & 1;
}
