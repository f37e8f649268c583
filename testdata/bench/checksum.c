// Interpreter benchmark: Fletcher-style sums over a packet-like buffer,
// with the bounds check per byte that the verifier demands.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bench.h"

SEC("socket")
__u64 checksum(struct bench_ctx *ctx)
{
	__u8 *p = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u32 a = 1, b = 0;

	for (__u32 i = 0; i < 1500; i++) {
		if (p + i + 1 > end)
			break;
		a += p[i];
		b += a;
	}
	return (__u64)(b % 65521) << 16 | (a % 65521);
}

char _license[] SEC("license") = "GPL";
