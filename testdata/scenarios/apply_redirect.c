// sk_msg with apply_bytes and a redirect, so that the cached verdict
// covers part of a later send. Settings in .data: apply (the budget each
// run sets), target (sock_map key), flags (0 or BPF_F_INGRESS) and mode:
// 0 redirect every run, 1 redirect on even runs and pass on odd ones,
// 2 redirect on even runs and drop on odd ones. sizes[i] is msg->size of
// run i.
#include "common.h"

volatile __u32 apply = 10;
volatile __u32 target = 1;
volatile __u32 flags SEC(".data") = 0;
volatile __u32 mode SEC(".data") = 0;
__u64 runs;
__u64 sizes[8];

SEC("sk_msg")
int msg_apply_redir(struct sk_msg_md *msg)
{
	__u64 i = runs++;

	if (i < 8)
		sizes[i] = msg->size;
	bpf_msg_apply_bytes(msg, apply);
	if (mode == 0 || (i & 1) == 0)
		return bpf_msg_redirect_map(msg, &sock_map, target, flags);
	return mode == 1 ? SK_PASS : SK_DROP;
}
