// The byte counters of struct tcp_sock after data flowed, read by a
// sockops program when the connection closes (STATE_CB), through the
// context, bpf_tcp_sock and bpf_skc_to_tcp_sock.
#include "../loader/vmlinux.h"
#include "../loader/kernel_types.h"
#include <bpf/bpf_helpers.h>

/* Not in the trimmed vmlinux.h. */
#define BPF_SOCK_OPS_STATE_CB_FLAG 4
#define TCP_FIN_WAIT1 4
#define TCP_LAST_ACK 9

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void put(__u32 i, __u64 v)
{
	bpf_map_update_elem(&stats, &i, &v, BPF_ANY);
}

SEC("sockops")
int sockops_tcp_counters(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk;
	struct bpf_tcp_sock *t;
	struct tcp_sock *tp;
	__u32 side, base;

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
		return 1;
	case BPF_SOCK_OPS_STATE_CB:
		break;
	default:
		return 1;
	}
	/* The side that closes first records at FIN_WAIT1, the other at
	 * LAST_ACK (after its own close). */
	if (skops->args[1] == TCP_FIN_WAIT1)
		side = 0;
	else if (skops->args[1] == TCP_LAST_ACK)
		side = 1;
	else
		return 1;
	base = side * 16;
	put(base + 0, skops->bytes_received);
	put(base + 1, skops->bytes_acked);
	sk = skops->sk;
	if (!sk)
		return 1;
	t = bpf_tcp_sock(sk);
	if (t) {
		put(base + 2, t->bytes_received);
		put(base + 3, t->bytes_acked);
		put(base + 4, t->snd_nxt - t->snd_una);
	}
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp) {
		put(base + 5, tp->bytes_received);
		put(base + 6, tp->bytes_acked);
	}
	return 1;
}

char _license[] SEC("license") = "GPL";
