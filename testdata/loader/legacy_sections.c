// Section names from before libbpf 1.0 (as in the kernel's old
// samples/bpf/sockmap_*_kern.c and early test_sockmap): a suffix glued to
// the type name. libbpf >= 1.0 rejects them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 20);
	__type(key, __u32);
	__type(value, __u32);
} sock_map SEC(".maps");

SEC("sk_skb1")
int bpf_prog1(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("sk_skb2")
int bpf_prog2(struct __sk_buff *skb)
{
	return bpf_sk_redirect_map(skb, &sock_map, skb->local_port & 1, 0);
}

SEC("sk_msg1")
int bpf_prog3(struct sk_msg_md *msg)
{
	return bpf_msg_redirect_map(msg, &sock_map, 0, 0);
}

SEC("sockops_insert")
int bpf_sockmap(struct bpf_sock_ops *skops)
{
	__u32 idx = 0;

	if (skops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		bpf_sock_map_update(skops, &sock_map, &idx, BPF_NOEXIST);
	return 0;
}

char _license[] SEC("license") = "GPL";
