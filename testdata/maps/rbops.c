// Runs a script of ring buffer operations (output of a variable size,
// reserve of a few constant sizes then submit or discard, query) and
// records each result, to compare the ring buffer's space accounting
// between the kernel and the emulator.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum { RB_OUTPUT = 1, RB_RESERVE_SUBMIT, RB_RESERVE_DISCARD, RB_QUERY, RB_RESERVE_FLAGS };

struct op {
	__u32 op;
	__u32 size; // output size, reserve size class, or query selector
	__u64 flags;
};

#define NOPS 32

struct script {
	struct op o[NOPS];
	__u32 n;
	__u32 pad;
	__u8 data[4096];
};

struct results {
	__s64 r[NOPS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct script);
} rb_script SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct results);
} rb_results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

#define RESERVE(n, discard)                                           \
	do {                                                          \
		__u8 *p = bpf_ringbuf_reserve(&rb, n, 0);             \
		res->r[i] = p != 0;                                   \
		if (p) {                                              \
			p[0] = i;                                     \
			p[n - 1] = 0xEE;                              \
			if (discard)                                  \
				bpf_ringbuf_discard(p, o->flags);     \
			else                                          \
				bpf_ringbuf_submit(p, o->flags);      \
		}                                                     \
	} while (0)

SEC("socket")
int rbops(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct script *s = bpf_map_lookup_elem(&rb_script, &zero);
	struct results *res = bpf_map_lookup_elem(&rb_results, &zero);
	if (!s || !res)
		return 0;
	for (__u32 i = 0; i < NOPS; i++) {
		if (i >= s->n)
			break;
		struct op *o = &s->o[i];
		switch (o->op) {
		case RB_OUTPUT: {
			__u32 n = o->size & 4095;
			s->data[0] = i;
			res->r[i] = bpf_ringbuf_output(&rb, s->data, n, o->flags);
			break;
		}
		case RB_RESERVE_SUBMIT:
		case RB_RESERVE_DISCARD: {
			int d = o->op == RB_RESERVE_DISCARD;
			switch (o->size) {
			case 0: RESERVE(1, d); break;
			case 1: RESERVE(100, d); break;
			case 2: RESERVE(2000, d); break;
			case 3: RESERVE(4000, d); break;
			case 4: RESERVE(4088, d); break;
			}
			break;
		}
		case RB_QUERY:
			res->r[i] = bpf_ringbuf_query(&rb, o->size);
			break;
		case RB_RESERVE_FLAGS: {
			void *p = bpf_ringbuf_reserve(&rb, 8, o->flags);
			res->r[i] = p != 0;
			if (p)
				bpf_ringbuf_discard(p, 0);
			break;
		}
		}
	}
	return 0;
}

char _license[] SEC("license") = "GPL";
