// The portable CO-RE pattern: an access to a field the target may lack,
// guarded by bpf_core_field_exists(). Against skmsg's context types the
// field is missing, the guard folds to 0 and the poisoned access is dead
// code: the object must load (the kernel verifier accepts it too).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct sk_msg_md___future {
	__u32 size;
	__u32 tx_queue_hint;
} __attribute__((preserve_access_index));

static __noinline __u32 hint(struct sk_msg_md___future *f)
{
	if (bpf_core_field_exists(f->tx_queue_hint))
		return f->tx_queue_hint;
	return 0;
}

SEC("sk_msg")
int msg_guarded(struct sk_msg_md *msg)
{
	struct sk_msg_md___future *f = (void *)msg;
	__u32 h = 0;

	if (bpf_core_field_exists(f->tx_queue_hint))
		h = f->tx_queue_hint;
	return h + hint(f) + f->size > 100 ? SK_DROP : SK_PASS;
}

char _license[] SEC("license") = "GPL";
