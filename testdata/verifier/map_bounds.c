// Map value bounds: constant and variable offsets into a 16-byte array
// value, off by one on each side, and key/value buffers on the stack.
#include "corpus.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[4]);
} arr64 SEC(".maps");

#define VB(p, i) (((volatile __u8 *)(p))[i])

#define MAP_SET(DECL, pfx, LEN)                                               \
	DECL(pfx##_ok_last_byte) {                                             \
		__u32 k = 0;                                                   \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		return VB(v, 15) == 3;                                         \
	}                                                                      \
	DECL(pfx##_bad_past_end) {                                             \
		__u32 k = 0;                                                   \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		return VB(v, 16) == 3;                                         \
	}                                                                      \
	DECL(pfx##_ok_u32_at_12) {                                             \
		__u32 k = 0;                                                   \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		return *(volatile __u32 *)((void *)v + 12) == 3;               \
	}                                                                      \
	DECL(pfx##_bad_u32_at_13) {                                            \
		__u32 k = 0;                                                   \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		return *(volatile __u32 *)((void *)v + 13) == 3;               \
	}                                                                      \
	DECL(pfx##_bad_before_start) {                                         \
		__u32 k = 0;                                                   \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		return *(volatile __u8 *)((void *)v - 1) == 3;                 \
	}                                                                      \
	DECL(pfx##_ok_var_lt) {                                                \
		__u32 k = 0, i = OPAQUE((__u32)(LEN));                         \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v || i >= 16)                                             \
			return 1;                                              \
		return VB(v, i) == 3;                                          \
	}                                                                      \
	DECL(pfx##_bad_var_le) {                                               \
		__u32 k = 0, i = OPAQUE((__u32)(LEN));                         \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v || i > 16)                                              \
			return 1;                                              \
		return VB(v, i) == 3;                                          \
	}                                                                      \
	/* a signed index checked only against the top */                     \
	DECL(pfx##_bad_var_signed) {                                           \
		__u32 k = 0;                                                   \
		int i = OPAQUE((int)(LEN));                                    \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v || i >= 16)                                             \
			return 1;                                              \
		return VB(v, (long)i) == 3;                                    \
	}                                                                      \
	DECL(pfx##_ok_var_signed_both) {                                       \
		__u32 k = 0;                                                   \
		int i = OPAQUE((int)(LEN));                                    \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v || i >= 16 || i < 0)                                    \
			return 1;                                              \
		return VB(v, (long)i) == 3;                                    \
	}                                                                      \
	DECL(pfx##_ok_var_masked) {                                            \
		__u32 k = 0, i = OPAQUE((__u32)(LEN)) & 15;                    \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		return VB(v, i) == 3;                                          \
	}                                                                      \
	DECL(pfx##_bad_var_mask_31) {                                          \
		__u32 k = 0, i = OPAQUE((__u32)(LEN)) & 31;                    \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		return VB(v, i) == 3;                                          \
	}                                                                      \
	DECL(pfx##_ok_u64_index) {                                             \
		__u32 k = 0, i = OPAQUE((__u32)(LEN));                         \
		__u64 *v = bpf_map_lookup_elem(&arr64, &k);                    \
		if (!v || i >= 4)                                              \
			return 1;                                              \
		return ((volatile __u64 *)v)[i] == 3;                          \
	}                                                                      \
	DECL(pfx##_bad_u64_index_le) {                                         \
		__u32 k = 0, i = OPAQUE((__u32)(LEN));                         \
		__u64 *v = bpf_map_lookup_elem(&arr64, &k);                    \
		if (!v || i > 4)                                               \
			return 1;                                              \
		return ((volatile __u64 *)v)[i] == 3;                          \
	}                                                                      \
	DECL(pfx##_ok_write_last) {                                            \
		__u32 k = 0;                                                   \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		VB(v, 15) = 1;                                                 \
		return 1;                                                      \
	}                                                                      \
	DECL(pfx##_bad_write_past) {                                           \
		__u32 k = 0;                                                   \
		struct val16 *v = bpf_map_lookup_elem(&arr16, &k);             \
		if (!v)                                                        \
			return 1;                                              \
		*(volatile __u16 *)((void *)v + 15) = 1;                       \
		return 1;                                                      \
	}

MAP_SET(MSG, msg, msg->size)
MAP_SET(SVERDICT, sverdict, skb->len)
MAP_SET(SOCKOPS, sockops, skops->op)

/* hash64 has 8-byte keys: a 4-byte key on the stack is too short */
MSG(msg_bad_key_too_short)
{
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(&hash64, &k);
	return v ? 1 : 0;
}

MSG(msg_ok_key_u64)
{
	__u64 k = 1;
	__u64 *v = bpf_map_lookup_elem(&hash64, &k);
	return v ? 1 : 0;
}

/* the value buffer is 8 bytes, the update reads 16 from arr16's view */
SVERDICT(sverdict_ok_value_short_reads_neighbour)
{
	__u32 k = 0;
	__u64 val = 1;
	bpf_map_update_elem(&arr16, &k, &val, BPF_ANY);
	return 1;
}

SVERDICT(sverdict_ok_value_full)
{
	__u32 k = 0;
	struct val16 val = {};
	bpf_map_update_elem(&arr16, &k, &val, BPF_ANY);
	return 1;
}

/* a key that is the map value itself: map_value memory is a fine key */
PARSER(parser_ok_key_from_value)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&arr64, &k);
	if (!v)
		return skb->len;
	__u64 *h = bpf_map_lookup_elem(&hash64, v);
	return h ? skb->len : 0;
}

/* the key is the packet: a fine key when the bytes are proven */
PARSER(parser_ok_key_from_packet)
{
	void *d = SKB_DATA(skb), *e = SKB_END(skb);
	if (d + 8 > e)
		return 0;
	__u64 *h = bpf_map_lookup_elem(&hash64, d);
	return h ? skb->len : 0;
}

PARSER(parser_bad_key_packet_short)
{
	void *d = SKB_DATA(skb), *e = SKB_END(skb);
	if (d + 7 > e)
		return 0;
	__u64 *h = bpf_map_lookup_elem(&hash64, d);
	return h ? skb->len : 0;
}
