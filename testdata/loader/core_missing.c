// A CO-RE access to a field no emulated context has: the loader must reject
// the object and name the program, the instruction and the field.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct sk_msg_md___future {
	__u32 size;
	__u32 tx_queue_hint;
} __attribute__((preserve_access_index));

SEC("sk_msg")
int msg_future(struct sk_msg_md *msg)
{
	struct sk_msg_md___future *f = (void *)msg;

	return f->tx_queue_hint ? SK_DROP : SK_PASS;
}

char _license[] SEC("license") = "GPL";
