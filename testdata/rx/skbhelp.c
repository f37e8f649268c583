// sk_skb helpers and context fields, in a verdict that passes what it
// changed. config[5] selects the operation; return values go to info[4..].
#include "common.h"

static __always_inline void fields(struct __sk_buff *skb)
{
	record(10, skb->family);
	record(11, skb->remote_ip4);
	record(12, skb->local_ip4);
	record(13, skb->remote_port);
	record(14, skb->local_port);
	record(15, skb->protocol);
	record(16, skb->pkt_type);
	record(17, skb->ingress_ifindex);
	record(18, skb->ifindex);
	record(19, skb->hash != 0);
	record(20, skb->napi_id);
	record(21, skb->queue_mapping);
	record(22, skb->priority);
	record(23, skb->vlan_present);
	record(24, skb->gso_segs);
	record(25, skb->gso_size);
	record(26, skb->tc_index);
	/* cb[] holds stale bytes of TCP's own control block on the kernel;
	 * skmsg reads zeros. Not compared. */
	record(28, *(__u16 *)((void *)skb + offsetof(struct __sk_buff, remote_port) + 2));
	record(29, skb->sk ? skb->sk->state : 99);
	record(30, bpf_get_socket_uid(skb));
}

SEC("sk_skb/stream_verdict")
int skb_ops(struct __sk_buff *skb)
{
	__u32 op = cfg(5);
	char xy[2] = {'X', 'Y'};
	__u32 word = 0;

	count(0);
	fields(skb);
	record(0, skb->len);
	switch (op) {
	case 1:
		record(4, bpf_skb_pull_data(skb, 0));
		record(5, (long)skb->data_end - (long)skb->data);
		record(6, bpf_skb_pull_data(skb, 4));
		record(7, (long)skb->data_end - (long)skb->data);
		record(8, bpf_skb_pull_data(skb, skb->len + 1));
		record(9, (long)skb->data_end - (long)skb->data);
		break;
	case 2:
		record(4, bpf_skb_adjust_room(skb, 4, 0, 0));
		record(5, skb->len);
		record(6, (long)skb->data_end - (long)skb->data);
		break;
	case 3:
		record(4, bpf_skb_adjust_room(skb, -2, 0, 0));
		record(5, skb->len);
		record(6, (long)skb->data_end - (long)skb->data);
		break;
	case 4:
		record(4, bpf_skb_change_tail(skb, skb->len - 1, 0));
		record(5, skb->len);
		record(6, (long)skb->data_end - (long)skb->data);
		break;
	case 5:
		record(4, bpf_skb_change_tail(skb, skb->len + 3, 0));
		record(5, skb->len);
		record(6, (long)skb->data_end - (long)skb->data);
		break;
	case 6:
		record(4, bpf_skb_change_head(skb, 2, 0));
		record(5, skb->len);
		record(6, (long)skb->data_end - (long)skb->data);
		break;
	case 7:
		record(4, bpf_skb_store_bytes(skb, 1, xy, 2, 0));
		record(5, (long)skb->data_end - (long)skb->data);
		record(6, bpf_skb_store_bytes(skb, 1, xy, 2, 4));
		record(7, bpf_skb_store_bytes(skb, skb->len - 1, xy, 2, 0));
		break;
	case 8:
		record(4, bpf_skb_load_bytes(skb, skb->len - 1, &word, 2));
		record(5, word);
		record(6, bpf_skb_load_bytes(skb, 0, &word, 4));
		record(7, word);
		break;
	case 9:
		record(4, bpf_skb_adjust_room(skb, 5000, 0, 0));
		record(5, bpf_skb_adjust_room(skb, 1, 1, 0));
		record(6, bpf_skb_change_tail(skb, 20000, 0));
		record(7, bpf_skb_change_head(skb, 1, 1));
		record(8, bpf_skb_adjust_room(skb, -4000, 0, 0));
		break;
	}
	return SK_PASS;
}

/* A verdict that reads packet bytes directly: without a pull it sees
 * nothing in verdict-only mode and drops. */
SEC("sk_skb/stream_verdict")
int skb_direct(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data;
	__u8 *data_end = (void *)(long)skb->data_end;

	count(0);
	if (cfg(5) == 1)
		bpf_skb_pull_data(skb, 1);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (data + 1 > data_end)
		return SK_DROP;
	record(4, data[0]);
	data[0] = 'Z';
	return SK_PASS;
}

/* Refused: sk_skb may not store to mark. */
SEC("sk_skb/stream_verdict")
int bad_mark_write(struct __sk_buff *skb)
{
	skb->mark = 1;
	return SK_PASS;
}

/* Refused: tc_classid is not readable by sk_skb. */
SEC("sk_skb/stream_verdict")
int bad_classid_read(struct __sk_buff *skb)
{
	return skb->tc_classid == 7 ? SK_DROP : SK_PASS;
}
