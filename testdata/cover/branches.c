// Coverage test program: which lines and branch directions run depends on
// the seed the test passes, so the test knows the answer.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../bench/bench.h"

static __attribute__((noinline)) __u64 scale(__u64 r, __u64 x)
{
	if (x > 100)
		return r * 3;
	return r;
}

SEC("socket")
__u64 branches(struct bench_ctx *ctx)
{
	__u64 x = ctx->seed;
	__u64 r = 0;

	if (x & 1)
		r += 10;
	else
		r += 20;
	r = scale(r, x);
	if (x == 7777)
		r = 0;
	return r;
}

char _license[] SEC("license") = "GPL";
