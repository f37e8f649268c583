// Programs for the remaining generic helpers: socket storage, ring buffer
// reserve/discard, perf event output, per-CPU lookups of another CPU,
// probe_read_kernel, the clocks and ids, and a tail call chain that
// re-enters itself until the kernel's limit stops it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sk_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} perf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} chain SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline void put(__u32 i, __u64 v)
{
	bpf_map_update_elem(&results, &i, &v, BPF_ANY);
}

SEC("sk_msg")
int msg_events(struct sk_msg_md *msg)
{
	__u64 *n = bpf_sk_storage_get(&sk_store, msg->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!n)
		return SK_DROP;
	*n += 1;
	put(0, *n);

	__u64 *rec = bpf_ringbuf_reserve(&ring, sizeof(*rec), 0);
	if (rec) {
		*rec = *n;
		if (*n & 1)
			bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
		else
			bpf_ringbuf_discard(rec, 0);
	}
	put(1, bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA));

	__u64 sample = 0xabc0 + *n;
	put(2, bpf_perf_event_output(msg, &perf, BPF_F_CURRENT_CPU, &sample, sizeof(sample)));
	put(3, bpf_perf_event_output(msg, &perf, 5, &sample, sizeof(sample)));

	__u32 zero = 0;
	__u64 *c0 = bpf_map_lookup_percpu_elem(&pcpu, &zero, 0);
	__u64 *c1 = bpf_map_lookup_percpu_elem(&pcpu, &zero, 1);
	__u64 *c2 = bpf_map_lookup_percpu_elem(&pcpu, &zero, 2);
	put(4, (c0 ? *c0 : 1000) + (c1 ? *c1 : 1000) + (c2 ? *c2 : 1000));

	char buf[8] = "abcdefg";
	put(5, bpf_probe_read_kernel(buf, sizeof(buf), (void *)0xffffffff81000000ULL));
	put(6, *(__u64 *)buf);

	put(7, bpf_ktime_get_boot_ns());
	put(8, bpf_ktime_get_coarse_ns());
	put(9, bpf_jiffies64());
	put(10, bpf_get_prandom_u32());
	put(11, bpf_get_current_pid_tgid());
	put(12, bpf_get_current_uid_gid());
	put(13, bpf_get_numa_node_id());
	if (*n == 3)
		put(14, bpf_sk_storage_delete(&sk_store, msg->sk));
	return SK_PASS;
}

SEC("socket")
int chain_self(struct __sk_buff *skb)
{
	__u32 k = 15;
	__u64 *hops = bpf_map_lookup_elem(&results, &k);
	if (hops)
		__sync_fetch_and_add(hops, 1);
	bpf_tail_call(skb, &chain, 0);
	return 7;
}

char _license[] SEC("license") = "GPL";
