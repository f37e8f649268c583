// Packet pointers after a helper that changes the packet data: every
// pointer derived from data/data_end before the call is invalid after it,
// and must be reloaded and checked again.
#include "corpus.h"

#define USE_AFTER(DECL, name, DATA, END, CALL)                                \
	DECL(name##_bad_stale) {                                               \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		CALL;                                                          \
		return *(volatile __u8 *)d == 1;                               \
	}                                                                      \
	DECL(name##_ok_reloaded) {                                             \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		CALL;                                                          \
		d = DATA;                                                      \
		e = END;                                                       \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		return *(volatile __u8 *)d == 1;                               \
	}                                                                      \
	/* reloaded, but the old bounds check is not redone */                \
	DECL(name##_bad_unchecked) {                                           \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		CALL;                                                          \
		d = DATA;                                                      \
		return *(volatile __u8 *)d == 1;                               \
	}

USE_AFTER(MSG, msg_pull, msg->data, msg->data_end, bpf_msg_pull_data(msg, 0, 8, 0))
USE_AFTER(MSG, msg_push, msg->data, msg->data_end, bpf_msg_push_data(msg, 0, 4, 0))
USE_AFTER(MSG, msg_pop, msg->data, msg->data_end, bpf_msg_pop_data(msg, 0, 2, 0))
USE_AFTER(SVERDICT, skb_pull, SKB_DATA(skb), SKB_END(skb), bpf_skb_pull_data(skb, 8))
USE_AFTER(VERDICT, skb_change_tail, SKB_DATA(skb), SKB_END(skb), bpf_skb_change_tail(skb, 64, 0))
USE_AFTER(SVERDICT, skb_adjust_room, SKB_DATA(skb), SKB_END(skb), bpf_skb_adjust_room(skb, 4, 0, 0))
USE_AFTER(PARSER, skb_change_head, SKB_DATA(skb), SKB_END(skb), bpf_skb_change_head(skb, 4, 0))
USE_AFTER(VERDICT, skb_store_bytes, SKB_DATA(skb), SKB_END(skb), ({ __u32 x = 0; bpf_skb_store_bytes(skb, 0, &x, 4, 0); }))

/* helpers that do not touch the data: the old pointers stay valid */
#define KEEPS(DECL, name, DATA, END, CALL)                                    \
	DECL(name##_ok_still_valid) {                                          \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		CALL;                                                          \
		return *(volatile __u8 *)d == 1;                               \
	}

KEEPS(MSG, msg_apply_bytes, msg->data, msg->data_end, bpf_msg_apply_bytes(msg, 10))
KEEPS(MSG, msg_cork_bytes, msg->data, msg->data_end, bpf_msg_cork_bytes(msg, 10))
KEEPS(MSG, msg_map_lookup, msg->data, msg->data_end, ({ __u32 k = 0; bpf_map_lookup_elem(&arr16, &k); }))
KEEPS(SVERDICT, skb_load_bytes, SKB_DATA(skb), SKB_END(skb), ({ __u32 x; bpf_skb_load_bytes(skb, 0, &x, 4); }))
KEEPS(VERDICT, skb_ktime, SKB_DATA(skb), SKB_END(skb), bpf_ktime_get_ns())

/* a packet pointer spilled to the stack is invalidated there too */
MSG(msg_pull_bad_spilled)
{
	void *volatile slot;
	void *d = msg->data, *e = msg->data_end;
	if (d + 4 > e)
		return 0;
	slot = d;
	bpf_msg_pull_data(msg, 0, 8, 0);
	return *(volatile __u8 *)slot == 1;
}

/* data_end kept across the call, data reloaded: the comparison is with a
 * stale data_end */
SVERDICT(skb_pull_bad_stale_end)
{
	void *e = SKB_END(skb);
	bpf_skb_pull_data(skb, 8);
	void *d = SKB_DATA(skb);
	if (d + 4 > e)
		return 0;
	return *(volatile __u8 *)d == 1;
}

/* a pointer into the data used in a bpf-to-bpf callee after the caller
 * pulled: the callee's frame sees the invalidation too */
static __attribute__((noinline)) int read_first(volatile __u8 *p)
{
	return p[0];
}

MSG(msg_pull_bad_stale_to_callee)
{
	void *d = msg->data, *e = msg->data_end;
	if (d + 4 > e)
		return 0;
	bpf_msg_pull_data(msg, 0, 8, 0);
	return read_first(d) == 1;
}
