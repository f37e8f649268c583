// Interpreter benchmark: a function that is not inlined, called 100 times.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bench.h"

static __noinline __u64 mix(__u64 x, __u64 y)
{
	return (x ^ y) * 31 + (x >> 3);
}

SEC("socket")
__u64 calls(struct bench_ctx *ctx)
{
	__u64 acc = ctx->seed;

	for (__u32 i = 0; i < 100; i++)
		acc = mix(acc, i);
	return acc;
}

char _license[] SEC("license") = "GPL";
