/* Maps shared by the receive-path programs: a sockmap, a sockhash keyed by
 * a connection's 4-tuple, run counters, a config array the scenarios set,
 * and an info array where programs record what they saw. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

/* counters[i]: how often something happened (index per program/op). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* config[i]: set by the scenario. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

/* info[i]: the last value a program recorded under i. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u32);
} info SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);
	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline __u32 cfg(__u32 idx)
{
	__u32 *v = bpf_map_lookup_elem(&config, &idx);
	return v ? *v : 0;
}

static __always_inline void record(__u32 idx, __u32 val)
{
	bpf_map_update_elem(&info, &idx, &val, BPF_ANY);
}

char _license[] SEC("license") = "GPL";
