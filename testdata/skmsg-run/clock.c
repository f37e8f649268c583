// An sk_msg program whose observations depend on the machine it runs on:
// the time and a random number go into a map, and it prints what it saw.
// skmsg's virtual clock and seeded random source are not the kernel's, so
// comparing the two shows a difference.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("sk_msg")
int msg_clock(struct sk_msg_md *msg)
{
	__u32 k = 0;
	__u64 v = bpf_ktime_get_ns();

	bpf_map_update_elem(&seen, &k, &v, BPF_ANY);
	k = 1;
	v = bpf_get_prandom_u32();
	bpf_map_update_elem(&seen, &k, &v, BPF_ANY);
	bpf_printk("sk_msg of %u bytes", msg->size);
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
