// An object with a license that is not GPL-compatible: GPL-only helpers
// are refused, the others are fine.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "Proprietary";

SEC("sk_msg") int msg_nogpl_ok_apply_bytes(struct sk_msg_md *msg) { bpf_msg_apply_bytes(msg, 4); return 1; }
SEC("sk_msg") int msg_nogpl_bad_trace_printk(struct sk_msg_md *msg) { bpf_printk("x"); return 1; }
SEC("sk_skb/stream_verdict") int sverdict_nogpl_ok_load_bytes(struct __sk_buff *skb)
{
	__u32 x;
	return bpf_skb_load_bytes(skb, 0, &x, 4) == 0;
}
SEC("sk_skb/verdict") int verdict_nogpl_ktime(struct __sk_buff *skb) { return bpf_ktime_get_ns() & 1; }
SEC("sockops") int sockops_nogpl_ok_cb_flags(struct bpf_sock_ops *skops) { bpf_sock_ops_cb_flags_set(skops, 0); return 1; }
SEC("sockops") int sockops_nogpl_get_prandom(struct bpf_sock_ops *skops) { return bpf_get_prandom_u32() & 1; }
SEC("sk_skb/stream_parser") int parser_nogpl_probe_read(struct __sk_buff *skb)
{
	__u64 x;
	bpf_probe_read_kernel(&x, 8, 0);
	return skb->len;
}
