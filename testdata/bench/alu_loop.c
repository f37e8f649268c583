// Interpreter benchmark: 1000 rounds of a 64-bit hash mix, pure ALU work.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bench.h"

SEC("socket")
__u64 alu_loop(struct bench_ctx *ctx)
{
	__u64 h = ctx->seed;

	for (__u32 i = 0; i < 1000; i++) {
		h ^= h >> 33;
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
		h += i;
	}
	return h;
}

char _license[] SEC("license") = "GPL";
