// Direct packet access: the range a data_end comparison proves, off by one
// in every direction, for the four program kinds that see packet data.
#include "corpus.h"

#define B(p, i) (((volatile __u8 *)(p))[i])

#define PKT_SET(DECL, pfx, DATA, END, LEN)                                   \
	/* four bytes proven, the last one read */                             \
	DECL(pfx##_ok_read_last) {                                             \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		return B(d, 3) == 7;                                           \
	}                                                                      \
	/* four bytes proven, the fifth read */                                \
	DECL(pfx##_bad_read_past) {                                            \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		return B(d, 4) == 7;                                           \
	}                                                                      \
	DECL(pfx##_ok_u32) {                                                   \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		return *(volatile __u32 *)d == 7;                              \
	}                                                                      \
	/* a u32 one byte in: its last byte is past the proven range */        \
	DECL(pfx##_bad_u32_shifted) {                                          \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		return *(volatile __u32 *)(d + 1) == 7;                        \
	}                                                                      \
	DECL(pfx##_bad_no_check) {                                             \
		void *d = DATA;                                                \
		return B(d, 0) == 7;                                           \
	}                                                                      \
	DECL(pfx##_ok_ge) {                                                    \
		void *d = DATA, *e = END;                                      \
		if (d + 4 >= e)                                                \
			return 0;                                              \
		return B(d, 3) == 7;                                           \
	}                                                                      \
	/* the check's branches swapped: the read is on the short side */     \
	DECL(pfx##_bad_inverted) {                                             \
		void *d = DATA, *e = END;                                      \
		if (d + 4 <= e)                                                \
			return 0;                                              \
		return B(d, 0) == 7;                                           \
	}                                                                      \
	DECL(pfx##_ok_end_first) {                                             \
		void *d = DATA, *e = END;                                      \
		if (e < d + 4)                                                 \
			return 0;                                              \
		return B(d, 3) == 7;                                           \
	}                                                                      \
	DECL(pfx##_bad_end_first_short) {                                      \
		void *d = DATA, *e = END;                                      \
		if (e < d + 3)                                                 \
			return 0;                                              \
		return *(volatile __u32 *)d == 7;                              \
	}                                                                      \
	/* a variable offset the verifier can bound (0..15) */                 \
	DECL(pfx##_ok_var_masked) {                                            \
		void *d = DATA, *e = END;                                      \
		__u32 off = (LEN) & 15;                                        \
		void *p = d + off;                                             \
		if (p + 1 > e)                                                 \
			return 0;                                              \
		return B(p, 0) == 7;                                           \
	}                                                                      \
	/* a variable offset with no upper bound below 64 KiB */              \
	DECL(pfx##_bad_var_unbounded) {                                        \
		void *d = DATA, *e = END;                                      \
		__u32 off = OPAQUE((__u32)(LEN));                              \
		void *p = d + off;                                             \
		if (p + 1 > e)                                                 \
			return 0;                                              \
		return B(p, 0) == 7;                                           \
	}                                                                      \
	DECL(pfx##_ok_write) {                                                 \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		B(d, 0) = 1;                                                   \
		return 1;                                                      \
	}                                                                      \
	DECL(pfx##_bad_write_past) {                                           \
		void *d = DATA, *e = END;                                      \
		if (d + 4 > e)                                                 \
			return 0;                                              \
		B(d, 4) = 1;                                                   \
		return 1;                                                      \
	}                                                                      \
	/* pkt_end minus pkt: arithmetic on pkt_end is prohibited */          \
	DECL(pfx##_bad_end_minus_data) {                                       \
		long d = (long)(DATA), e = (long)(END);                        \
		if (e - d < 4)                                                 \
			return 0;                                              \
		return B(d, 0) == 7;                                           \
	}                                                                      \
	DECL(pfx##_ok_64) {                                                    \
		void *d = DATA, *e = END;                                      \
		if (d + 64 > e)                                                \
			return 0;                                              \
		return B(d, 63) == 7;                                          \
	}                                                                      \
	/* a constant offset past the largest packet the verifier tracks */    \
	DECL(pfx##_bad_huge_off) {                                             \
		void *d = DATA, *e = END;                                      \
		if (d + 70000 > e)                                             \
			return 0;                                              \
		return B(d, 69999) == 7;                                       \
	}                                                                      \
	/* two checks: the second one, against a smaller length, does not     \
	 * shrink what the first proved */                                     \
	DECL(pfx##_ok_two_checks) {                                            \
		void *d = DATA, *e = END;                                      \
		if (d + 8 > e)                                                 \
			return 0;                                              \
		if (d + 2 > e)                                                 \
			return 0;                                              \
		return B(d, 7) == 7;                                           \
	}                                                                      \
	/* a u64 read at offset 8 after proving 15 bytes */                    \
	DECL(pfx##_bad_u64_one_short) {                                        \
		void *d = DATA, *e = END;                                      \
		if (d + 15 > e)                                                \
			return 0;                                              \
		return *(volatile __u64 *)(d + 8) == 7;                        \
	}

PKT_SET(MSG, msg, msg->data, msg->data_end, msg->size)
PKT_SET(PARSER, parser, SKB_DATA(skb), SKB_END(skb), skb->len)
PKT_SET(SVERDICT, sverdict, SKB_DATA(skb), SKB_END(skb), skb->len)
PKT_SET(VERDICT, verdict, SKB_DATA(skb), SKB_END(skb), skb->len)

/* sock_ops sees the segment's header bytes (skb_data, skb_data_end). */
SOCKOPS(sockops_ok_skb_data_read)
{
	void *d = (void *)(long)skops->skb_data, *e = (void *)(long)skops->skb_data_end;
	if (d + 4 > e)
		return 1;
	return B(d, 3) == 7;
}

SOCKOPS(sockops_bad_skb_data_past)
{
	void *d = (void *)(long)skops->skb_data, *e = (void *)(long)skops->skb_data_end;
	if (d + 4 > e)
		return 1;
	return B(d, 4) == 7;
}

/* sock_ops may read the segment, never write it */
SOCKOPS(sockops_bad_skb_data_write)
{
	void *d = (void *)(long)skops->skb_data, *e = (void *)(long)skops->skb_data_end;
	if (d + 4 > e)
		return 1;
	B(d, 0) = 1;
	return 1;
}
