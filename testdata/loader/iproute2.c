// An object in the style of an old iproute2 Makefile: maps declared as
// struct bpf_elf_map in SEC("maps") (with id, pinning and map-in-map
// fields), no BTF map definitions.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PIN_NONE	0
#define PIN_OBJECT_NS	1
#define PIN_GLOBAL_NS	2

struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

#define INNER_ID 42

struct bpf_elf_map SEC("maps") sock_map = {
	.type = BPF_MAP_TYPE_SOCKMAP,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 20,
	.pinning = PIN_GLOBAL_NS,
};

struct bpf_elf_map SEC("maps") counters = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 2,
	.id = 1,
	.pinning = PIN_OBJECT_NS,
};

struct bpf_elf_map SEC("maps") inner = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 1,
	.id = INNER_ID,
	.inner_idx = 0,
};

struct bpf_elf_map SEC("maps") outer = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 1,
	.inner_id = INNER_ID,
};

struct bpf_elf_map SEC("maps") perf_events = {
	.type = BPF_MAP_TYPE_PERF_EVENT_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 0,
};

SEC("sk_skb/stream_verdict")
int verdict(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);
	void *in = bpf_map_lookup_elem(&outer, &key);

	if (v)
		*v += skb->len;
	if (in) {
		__u32 *w = bpf_map_lookup_elem(in, &key);
		if (w)
			key = *w;
	}
	bpf_perf_event_output(skb, &perf_events, BPF_F_CURRENT_CPU, &key, sizeof(key));
	return bpf_sk_redirect_map(skb, &sock_map, key, 0);
}

char __license[] SEC("license") = "GPL";
