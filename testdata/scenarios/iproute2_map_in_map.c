// Maps of maps declared the iproute2 way, as Cilium 1.x objects do:
// struct bpf_elf_map in SEC("maps"), an outer map naming its inner
// template by id (inner_id == the template's id), the template stored in
// the outer map at its inner_idx unless that is -1 (NO_PREPOPULATE).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PIN_NONE	0
#define PIN_GLOBAL_NS	2
#define NO_PREPOPULATE	-1

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

struct bpf_elf_map SEC("maps") sock_map = {
	.type = BPF_MAP_TYPE_SOCKMAP,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 4,
};

struct bpf_elf_map SEC("maps") results = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 4,
};

/* A template that iproute2 stores at index 1 of the outer array. */
struct bpf_elf_map SEC("maps") backends = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 2,
	.id = 9,
	.inner_idx = 1,
};

struct bpf_elf_map SEC("maps") backends_outer = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 2,
	.inner_id = 9,
};

/* Cilium's Maglev pattern: a template that is never stored, for a hash of
 * maps with 16-bit keys that user space fills. */
struct bpf_elf_map SEC("maps") maglev_inner = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32) * 8,
	.max_elem = 1,
	.id = 7,
	.inner_idx = NO_PREPOPULATE,
};

struct bpf_elf_map SEC("maps") maglev_outer = {
	.type = BPF_MAP_TYPE_HASH_OF_MAPS,
	.size_key = sizeof(__u16),
	.size_value = sizeof(__u32),
	.max_elem = 16,
	.pinning = PIN_GLOBAL_NS,
	.inner_id = 7,
};

static __always_inline void put(__u32 i, __u64 v)
{
	bpf_map_update_elem(&results, &i, &v, BPF_ANY);
}

SEC("sk_msg")
int msg_map_in_map(struct sk_msg_md *msg)
{
	__u32 zero = 0, one = 1;
	__u16 svc = 1;
	void *inner;
	__u32 *v;

	/* Slot 0 is empty, slot 1 holds the template itself. */
	put(0, bpf_map_lookup_elem(&backends_outer, &zero) == 0);
	inner = bpf_map_lookup_elem(&backends_outer, &one);
	if (inner) {
		v = bpf_map_lookup_elem(inner, &zero);
		if (v)
			put(1, *v);
	}
	/* The Maglev outer map starts empty. */
	put(2, bpf_map_lookup_elem(&maglev_outer, &svc) == 0);
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
