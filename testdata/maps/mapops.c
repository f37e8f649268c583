// Runs a script of map operations from a BPF program (the helpers'
// side: bpf_map_lookup_elem, update, delete, push, pop, peek and
// lookup_percpu_elem) on several map types and records each return value,
// so the program side can be compared between the kernel and the
// emulator.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum { OP_LOOKUP = 1, OP_UPDATE, OP_DELETE, OP_PUSH, OP_POP, OP_PEEK, OP_PERCPU };

struct op {
	__u32 op;
	__u32 map;
	__u32 flags; // update/push flags, or the CPU of OP_PERCPU
	__u32 key;
	__u64 value;
};

#define NOPS 24

struct script {
	struct op o[NOPS];
	__u32 n;
	__u32 pad;
};

struct res {
	__s64 ret;
	__u64 value;
};

struct results {
	struct res r[NOPS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct script);
} script SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct results);
} results SEC(".maps");

#define KV(t, n, flags_)                    \
	struct {                            \
		__uint(type, t);            \
		__uint(max_entries, n);     \
		__uint(map_flags, flags_);  \
		__type(key, __u32);         \
		__type(value, __u64);       \
	}

KV(BPF_MAP_TYPE_HASH, 3, 0) m_hash SEC(".maps");
KV(BPF_MAP_TYPE_ARRAY, 3, 0) m_array SEC(".maps");
KV(BPF_MAP_TYPE_PERCPU_HASH, 3, 0) m_pcpu_hash SEC(".maps");
KV(BPF_MAP_TYPE_PERCPU_ARRAY, 3, 0) m_pcpu_array SEC(".maps");
KV(BPF_MAP_TYPE_HASH, 3, BPF_F_NO_PREALLOC) m_hash_np SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 3);
	__type(value, __u64);
} m_queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 3);
	__type(value, __u64);
} m_stack SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 3);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u64);
} m_lpm SEC(".maps");

#define KEYED(mp, keyp)                                                          \
	do {                                                                     \
		if (o->op == OP_LOOKUP) {                                        \
			__u64 *v = bpf_map_lookup_elem(mp, keyp);                \
			r->ret = v != 0;                                         \
			r->value = v ? *v : 0;                                   \
		} else if (o->op == OP_UPDATE) {                                 \
			r->ret = bpf_map_update_elem(mp, keyp, &val, o->flags);  \
		} else if (o->op == OP_DELETE) {                                 \
			r->ret = bpf_map_delete_elem(mp, keyp);                  \
		}                                                                \
	} while (0)

#define PERCPU(mp)                                                                       \
	do {                                                                             \
		if (o->op == OP_PERCPU) {                                                \
			__u64 *v = bpf_map_lookup_percpu_elem(mp, &key, o->flags);       \
			r->ret = v != 0;                                                 \
			r->value = v ? *v : 0;                                           \
		}                                                                        \
	} while (0)

#define QUEUE(mp)                                                    \
	do {                                                         \
		if (o->op == OP_PUSH) {                              \
			r->ret = bpf_map_push_elem(mp, &val, o->flags); \
		} else if (o->op == OP_POP) {                        \
			__u64 v = 0xdead;                            \
			r->ret = bpf_map_pop_elem(mp, &v);           \
			r->value = v;                                \
		} else if (o->op == OP_PEEK) {                       \
			__u64 v = 0xdead;                            \
			r->ret = bpf_map_peek_elem(mp, &v);          \
			r->value = v;                                \
		}                                                    \
	} while (0)

SEC("socket")
int mapops(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct script *s = bpf_map_lookup_elem(&script, &zero);
	struct results *res = bpf_map_lookup_elem(&results, &zero);
	if (!s || !res)
		return 0;
	for (__u32 i = 0; i < NOPS; i++) {
		if (i >= s->n)
			break;
		struct op *o = &s->o[i];
		struct res *r = &res->r[i];
		__u32 key = o->key;
		__u64 val = o->value;
		struct lpm_key lk = { .prefixlen = o->key >> 24, .addr = o->key & 0xFFFFFF };
		switch (o->map) {
		case 0: KEYED(&m_hash, &key); break;
		case 1: KEYED(&m_array, &key); break;
		case 2: KEYED(&m_pcpu_hash, &key); PERCPU(&m_pcpu_hash); break;
		case 3: KEYED(&m_pcpu_array, &key); PERCPU(&m_pcpu_array); break;
		case 4: KEYED(&m_hash_np, &key); break;
		case 5: QUEUE(&m_queue); break;
		case 6: QUEUE(&m_stack); break;
		case 7: KEYED(&m_lpm, &lk); break;
		}
	}
	return 0;
}

char _license[] SEC("license") = "GPL";
