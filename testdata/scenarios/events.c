// sk_msg reporting through a ring buffer and a perf event array, and
// counting its runs in a per-CPU array: each run writes one record
// {seq, size} to both, seq counting runs across CPUs from 1. A message
// starting with 'x' gets a longer ring buffer record (a third field, the
// first data byte) and none in the perf buffer.
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
} perf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bytes { __u32 msgs; __u32 bytes; });
} sizes SEC(".maps");

struct event {
	__u32 seq;
	__u32 size;
};

struct long_event {
	__u32 seq;
	__u32 size;
	__u32 first;
};

SEC("sk_msg")
int msg_events(struct sk_msg_md *msg)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&runs, &zero);
	if (n)
		*n += 1;
	struct bytes *b = bpf_map_lookup_elem(&sizes, &zero);
	if (b) {
		b->msgs += 1;
		b->bytes += msg->size;
	}

	__u32 idx = 0;
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);
	if (!c)
		return SK_DROP;
	__u64 seq = __sync_add_and_fetch(c, 1);

	__u8 *data = msg->data, *end = msg->data_end;
	if (data + 1 <= end && data[0] == 'x') {
		struct long_event le = {.seq = seq, .size = msg->size, .first = data[0]};
		bpf_ringbuf_output(&ring, &le, sizeof(le), 0);
		return SK_PASS;
	}
	struct event e = {.seq = seq, .size = msg->size};
	bpf_ringbuf_output(&ring, &e, sizeof(e), 0);
	bpf_perf_event_output(msg, &perf, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return SK_PASS;
}
