// Programs of the stress scenarios: one sk_msg program, one stream verdict
// and one verdict-only program per map kind (sock_map, and sock_hash keyed
// by a u32), all driven by the config array, and two stream parsers.
//
// config[0]: action: 0 drop, 1 pass, 2 redirect
// config[1]: redirect key, config[2]: redirect flags (BPF_F_INGRESS = 1)
// config[3]: sk_msg apply_bytes (0: not called)
// config[4]: sk_msg cork_bytes, asked once (0: never)
// config[5]: 1: the stream verdict checks record tags (see check_record)
//
// counters[0]: sk_msg runs, counters[1]: bytes sk_msg programs saw
// counters[2]: skb verdict runs, counters[3]: bytes skb verdicts saw
// counters[4]: records whose tag or length was wrong
// counters[5]: parser runs
// counters[6]: redirects the helper refused (no socket at the key)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} sock_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void add(__u32 idx, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		__sync_fetch_and_add(c, n);
}

static __always_inline __u32 cfg(__u32 idx)
{
	__u32 *v = bpf_map_lookup_elem(&config, &idx);

	return v ? *v : 0;
}

static __always_inline int msg_verdict(struct sk_msg_md *msg, int hash)
{
	__u32 key = cfg(1), cork = cfg(4), apply = cfg(3), zero = 0;
	__u32 act = cfg(0);
	long r;

	add(0, 1);
	add(1, msg->size);
	if (apply)
		bpf_msg_apply_bytes(msg, apply);
	if (cork) {
		/* Cork once: the next cork_bytes bytes go out as one message. */
		__u32 four = 4;

		bpf_map_update_elem(&config, &four, &zero, BPF_ANY);
		bpf_msg_cork_bytes(msg, cork);
	}
	if (act == 0)
		return SK_DROP;
	if (act == 1)
		return SK_PASS;
	if (hash)
		r = bpf_msg_redirect_hash(msg, &sock_hash, &key, cfg(2));
	else
		r = bpf_msg_redirect_map(msg, &sock_map, key, cfg(2));
	if (r != SK_PASS)
		add(6, 1);
	return r;
}

SEC("sk_msg")
int msg_map(struct sk_msg_md *msg)
{
	return msg_verdict(msg, 0);
}

SEC("sk_msg")
int msg_hash(struct sk_msg_md *msg)
{
	return msg_verdict(msg, 1);
}

/* A record is a 2-byte big-endian payload length, then the payload, whose
 * every byte is the record's number (from 0, mod 256). The verdict sees
 * records in order, so record n is the one seen when n verdicts ran before
 * it: a frame that starts or ends anywhere but at a record's boundaries
 * shows as a wrong length or a wrong first or last byte. */
static __always_inline void check_record(struct __sk_buff *skb, __u64 n)
{
	__u8 hdr[2], first, last;
	__u32 len;

	if (bpf_skb_load_bytes(skb, 0, hdr, 2) < 0) {
		add(4, 1);
		return;
	}
	len = (hdr[0] << 8) | hdr[1];
	if (skb->len != len + 2) {
		add(4, 1);
		return;
	}
	if (len == 0)
		return;
	if (bpf_skb_load_bytes(skb, 2, &first, 1) < 0 ||
	    bpf_skb_load_bytes(skb, (skb->len - 1) & 0xffff, &last, 1) < 0 ||
	    first != (__u8)n || last != (__u8)n)
		add(4, 1);
}

static __always_inline int skb_verdict(struct __sk_buff *skb, int hash)
{
	__u32 idx = 2, key = cfg(1), act = cfg(0);
	__u64 *runs = bpf_map_lookup_elem(&counters, &idx);
	long r;

	if (!runs)
		return SK_DROP;
	if (cfg(5))
		check_record(skb, *runs);
	__sync_fetch_and_add(runs, 1);
	add(3, skb->len);
	if (act == 0)
		return SK_DROP;
	if (act == 1)
		return SK_PASS;
	if (hash)
		r = bpf_sk_redirect_hash(skb, &sock_hash, &key, cfg(2));
	else
		r = bpf_sk_redirect_map(skb, &sock_map, key, cfg(2));
	if (r != SK_PASS)
		add(6, 1);
	return r;
}

SEC("sk_skb/stream_verdict")
int skb_map(struct __sk_buff *skb)
{
	return skb_verdict(skb, 0);
}

SEC("sk_skb/stream_verdict")
int skb_hash(struct __sk_buff *skb)
{
	return skb_verdict(skb, 1);
}

SEC("sk_skb/verdict")
int vskb_map(struct __sk_buff *skb)
{
	return skb_verdict(skb, 0);
}

SEC("sk_skb/verdict")
int vskb_hash(struct __sk_buff *skb)
{
	return skb_verdict(skb, 1);
}

/* Frames of a 2-byte big-endian length prefix and that many bytes. */
SEC("sk_skb/stream_parser")
int parse_records(struct __sk_buff *skb)
{
	__u8 hdr[2];

	add(5, 1);
	if (bpf_skb_load_bytes(skb, 0, hdr, 2) < 0)
		return 0;
	return 2 + ((hdr[0] << 8) | hdr[1]);
}

/* Whatever arrived is one frame. */
SEC("sk_skb/stream_parser")
int parse_whole(struct __sk_buff *skb)
{
	add(5, 1);
	return skb->len;
}

char _license[] SEC("license") = "GPL";
