// sk_msg with apply_bytes: the verdict covers the next `apply` bytes, so the
// program runs once per `apply` bytes. The verdict comes from .data.
#include "common.h"

volatile __u32 apply = 10;
volatile __u32 verdict = SK_PASS;
__u64 runs;
__u64 last_size;

SEC("sk_msg")
int msg_apply(struct sk_msg_md *msg)
{
	runs++;
	last_size = msg->size;
	bpf_msg_apply_bytes(msg, apply);
	return verdict;
}
