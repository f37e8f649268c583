// Stream parsers and a configurable verdict for the receive path.
//
// config[0]: frame length of parser_fixed (0: skb->len)
// config[1]: verdict action: 0 drop, 1 pass, 2 redirect
// config[2]: redirect key in sock_map, config[3]: redirect flags
// counters[0]: verdict runs, counters[1]: parser runs
// info[0]: skb->len the verdict saw, info[1]: data_end - data it saw,
// info[2]: skb->len the parser saw, info[3]: redirect helper's return
#include "common.h"

SEC("sk_skb/stream_parser")
int parser_fixed(struct __sk_buff *skb)
{
	__u32 n = cfg(0);

	count(1);
	record(2, skb->len);
	return n ? n : skb->len;
}

/* A 2-byte big-endian length prefix, read at the start of the skb: the
 * parser cannot know where in the skb the message begins. */
SEC("sk_skb/stream_parser")
int parser_lenpfx(struct __sk_buff *skb)
{
	__u8 hdr[2];

	count(1);
	record(2, skb->len);
	if (bpf_skb_load_bytes(skb, 0, hdr, 2) < 0)
		return 0;
	return 2 + ((hdr[0] << 8) | hdr[1]);
}

/* Returns config[4] as an error (interpreted as a negative int). */
SEC("sk_skb/stream_parser")
int parser_error(struct __sk_buff *skb)
{
	count(1);
	return -(int)cfg(4);
}

SEC("sk_skb/stream_verdict")
int verdict_cfg(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 act = cfg(1);

	count(0);
	record(0, skb->len);
	record(1, data_end - data);
	if (act == 0)
		return SK_DROP;
	if (act == 2) {
		long r = bpf_sk_redirect_map(skb, &sock_map, cfg(2), cfg(3));
		record(3, r);
		return r;
	}
	return SK_PASS;
}

SEC("sk_skb/verdict")
int skb_verdict_cfg(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 act = cfg(1);

	count(0);
	record(0, skb->len);
	record(1, data_end - data);
	if (act == 0)
		return SK_DROP;
	if (act == 2)
		return bpf_sk_redirect_map(skb, &sock_map, cfg(2), cfg(3));
	return SK_PASS;
}
