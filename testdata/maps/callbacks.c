// Runs bpf_loop and bpf_for_each_map_elem with parameters taken from a map
// and stores every result in another map, so that the same inputs can be
// compared between the kernel (BPF_PROG_TEST_RUN) and the emulator.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct in {
	__u32 nr_loops;
	__u32 loop_break; // the loop callback stops at this index (never: ~0)
	__u64 loop_flags;
	__u64 each_flags;
	__u32 each_break; // the walk callbacks stop after this many elements (0: never)
	__u32 del_mod;    // the hash walk deletes keys divisible by this (0: none)
};

struct walk {
	__s64 ret;
	__u64 calls;
	__u64 keys;   // sum of keys seen
	__u64 vals;   // sum of values seen (before the callback adds key+1)
	__s64 after;  // a second, read-only walk: its return
	__u64 after_vals;
};

struct out {
	__s64 loop_ret;
	__u64 loop_calls;
	__u64 loop_sum;
	__u64 loop_lookups; // values of arr seen from inside the loop callback
	struct walk arr, hash, pcpu_arr, pcpu_hash, lru;
	__s64 e2big, einval;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct in);
} cb_in SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct out);
} cb_out SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pcpu_arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} pcpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} lru SEC(".maps");

struct loop_ctx {
	__u32 brk;
	__u64 calls;
	__u64 sum;
	__u64 lookups;
};

static long loop_cb(__u32 i, struct loop_ctx *c)
{
	__u32 k = i & 7;
	__u64 *v = bpf_map_lookup_elem(&arr, &k);

	c->calls++;
	c->sum += i;
	if (v)
		c->lookups += *v;
	if (i == c->brk)
		return 1;
	return 0;
}

struct walk_ctx {
	__u32 brk;
	__u32 del_mod;
	__u64 calls;
	__u64 keys;
	__u64 vals;
	int add; // add key+1 to each value
};

static long walk_cb(void *map, __u32 *key, __u64 *val, struct walk_ctx *c)
{
	c->calls++;
	c->keys += *key;
	c->vals += *val;
	if (c->add)
		*val += *key + 1;
	if (c->del_mod && *key % c->del_mod == 0)
		bpf_map_delete_elem(map, key);
	if (c->brk && c->calls >= c->brk)
		return 1;
	return 0;
}

static __always_inline void walk(void *map, struct in *in, struct walk *w, int del)
{
	struct walk_ctx c = {.brk = in->each_break, .add = 1};

	if (del)
		c.del_mod = in->del_mod;
	w->ret = bpf_for_each_map_elem(map, walk_cb, &c, in->each_flags);
	w->calls = c.calls;
	w->keys = c.keys;
	w->vals = c.vals;
	struct walk_ctx c2 = {};
	w->after = bpf_for_each_map_elem(map, walk_cb, &c2, 0);
	w->after_vals = c2.vals;
}

SEC("socket")
int callbacks(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct in *in = bpf_map_lookup_elem(&cb_in, &k);
	struct out *o = bpf_map_lookup_elem(&cb_out, &k);

	if (!in || !o)
		return 0;
	struct loop_ctx lc = {.brk = in->loop_break};
	o->loop_ret = bpf_loop(in->nr_loops, loop_cb, &lc, in->loop_flags);
	o->loop_calls = lc.calls;
	o->loop_sum = lc.sum;
	o->loop_lookups = lc.lookups;
	o->e2big = bpf_loop((1 << 23) + 1, loop_cb, &lc, 0);
	o->einval = bpf_loop(1, loop_cb, &lc, 2);

	walk(&arr, in, &o->arr, 0);
	walk(&hash, in, &o->hash, 1);
	walk(&pcpu_arr, in, &o->pcpu_arr, 0);
	walk(&pcpu_hash, in, &o->pcpu_hash, 0);
	walk(&lru, in, &o->lru, 1);
	return 1;
}

char _license[] SEC("license") = "GPL";
