// Programs that exercise the generic helpers and the map types through
// them: counters in an array, a hash and a per-CPU array, printk, a ring
// buffer, a queue, tail calls, map-in-map, an LPM trie, strtol/strncmp and
// global data.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 2);
	__type(value, __u32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [1] = &inner_a },
};

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} routes SEC(".maps");

struct event {
	__u32 count;
	__u32 cpu;
	__u64 time;
};

const volatile char number[8] = "  -1234";
const volatile char word[6] = "hello";
__u64 parsed = 0;
__u32 runs = 7;

SEC("socket")
int count(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&counters, &key);
	if (!n)
		return -1;
	__sync_fetch_and_add(n, 1);
	__u64 now = bpf_ktime_get_ns();
	__u32 k = (__u32)*n;
	bpf_map_update_elem(&seen, &k, &now, BPF_NOEXIST);

	__u64 *pc = bpf_map_lookup_elem(&percpu, &key);
	if (pc)
		*pc += 10;

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->count = k;
		e->cpu = bpf_get_smp_processor_id();
		e->time = now;
		bpf_ringbuf_submit(e, 0);
	}
	if (bpf_map_push_elem(&fifo, &k, 0))
		bpf_printk("fifo full at %u", k);
	bpf_printk("count %d cpu %u t=%llx", k, bpf_get_smp_processor_id(), now);
	runs++;
	return k;
}

SEC("socket")
int pop(struct __sk_buff *skb)
{
	__u32 v = 0;
	long err = bpf_map_pop_elem(&fifo, &v);
	if (err)
		return err;
	return v;
}

SEC("socket")
int jump(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jumps, 0);
	return 1; // no program at index 0
}

SEC("socket")
int landed(struct __sk_buff *skb)
{
	return 42;
}

SEC("socket")
int nested(struct __sk_buff *skb)
{
	__u32 key = 1, zero = 0;
	void *in = bpf_map_lookup_elem(&outer, &key);
	if (!in)
		return -1;
	__u32 *v = bpf_map_lookup_elem(in, &zero);
	if (!v)
		return -2;
	return *v;
}

SEC("socket")
int route(struct __sk_buff *skb)
{
	struct lpm_key k = { .prefixlen = 32, .addr = { 10, 1, 2, 3 } };
	__u32 *v = bpf_map_lookup_elem(&routes, &k);
	return v ? *v : 0;
}

SEC("socket")
int strings(struct __sk_buff *skb)
{
	char buf[8];
	long res = 0;
	__builtin_memcpy(buf, (const char *)number, sizeof(buf));
	long n = bpf_strtol(buf, sizeof(buf), 0, &res);
	if (n < 0)
		return n;
	parsed = res;
	char w[6] = "hellp";
	return bpf_strncmp(w, sizeof(w), (const char *)word) * 100 + n;
}

char _license[] SEC("license") = "GPL";
