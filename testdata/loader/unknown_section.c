// A program in a section no loader convention names: its type must be
// given explicitly (loader.WithProgramType, skmsg-run --type).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("my_verdict")
int custom_verdict(struct sk_msg_md *msg)
{
	return msg->size > 100 ? SK_DROP : SK_PASS;
}

char _license[] SEC("license") = "GPL";
