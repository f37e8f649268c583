/* Shared by the interpreter benchmarks: the context the Go side builds. */
#include <linux/types.h>

struct bench_ctx {
	__u64 seed;
	__u64 data;     /* address of the first byte of the buffer */
	__u64 data_end; /* address one past its last byte */
};
