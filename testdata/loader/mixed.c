// A mixed object: sockmap programs next to other common program types, as
// a production object often is. skmsg runs only the sockmap ones, but the
// object must load.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("sk_msg")
int mixed_msg(struct sk_msg_md *msg)
{
	return SK_PASS;
}

SEC("socket")
int mixed_socket(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("tc")
int mixed_tc(struct __sk_buff *skb)
{
	return 0;
}

SEC("xdp")
int mixed_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("cgroup_skb/ingress")
int mixed_cgroup_skb(struct __sk_buff *skb)
{
	return 1;
}

SEC("kprobe/tcp_sendmsg")
int mixed_kprobe(void *ctx)
{
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int mixed_tracepoint(void *ctx)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
