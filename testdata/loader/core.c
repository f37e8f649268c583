// Built against vmlinux.h: every context access carries a CO-RE relocation
// that the loader resolves against the UAPI layouts skmsg emulates. The
// ___reordered flavor declares fields at offsets that are wrong on purpose,
// so only a relocated program reads the right bytes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct sk_msg_md___reordered {
	__u32 size;
	__u32 local_port;
	__u32 not_in_kernel;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} sock_hash SEC(".maps");

SEC("sk_msg")
int core_msg(struct sk_msg_md *msg)
{
	struct sk_msg_md___reordered *r = (void *)msg;
	__u32 key = msg->remote_port ^ r->local_port;

	if (bpf_core_field_exists(r->not_in_kernel))
		return SK_DROP;
	if (!bpf_core_type_exists(struct bpf_sock))
		return SK_DROP;
	if (r->size > 4096 || msg->family != 2)
		return SK_PASS;
	return bpf_msg_redirect_hash(msg, &sock_hash, &key, BPF_F_INGRESS);
}

SEC("sk_skb/stream_verdict")
int core_skb(struct __sk_buff *skb)
{
	return skb->len > bpf_core_field_size(skb->cb) ? SK_PASS : SK_DROP;
}

SEC("sockops")
int core_sockops(struct bpf_sock_ops *ops)
{
	__u32 key = ops->remote_port;

	/* skb_hwtstamp (offset 216) is newer than some installed UAPI headers. */
	if (ops->op == BPF_SOCK_OPS_PARSE_HDR_OPT_CB && ops->skb_hwtstamp)
		key = 0;
	if (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		bpf_sock_hash_update(ops, &sock_hash, &key, BPF_NOEXIST);
	return 1;
}

char _license[] SEC("license") = "GPL";
