// Kernel-internal types reached from sockmap programs, built on vmlinux.h
// as real programs are: bpf_tcp_sock from sock_ops, the bpf_skc_to_*_sock
// casts, direct BTF loads and BPF_CORE_READ through struct tcp_sock, and
// bpf_get_current_task_btf. Every value stored is one the kernel gives on
// every run (no sequence numbers, pids or timings): results of casts,
// addresses, ports, states, the initial congestion window, and relations
// between the task struct and the helpers that report on it.
#include "../loader/vmlinux.h"
#include "../loader/kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

/* info[16*side + i]: what the programs saw (side: 0 active, 1 passive,
 * 2 sk_msg, 3 sk_skb verdict). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} info SEC(".maps");

static __always_inline void put(__u32 side, __u32 i, __u64 v)
{
	__u32 key = side * 16 + i;
	bpf_map_update_elem(&info, &key, &v, BPF_ANY);
}

/* What every program records about a socket through struct tcp_sock. */
static __always_inline void kernel_sock(__u32 side, struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	if (!tp) {
		put(side, 0, 0xdead);
		return;
	}
	put(side, 0, 1);
	/* CO-RE reads through the embedded structs. */
	put(side, 1, BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_family));
	put(side, 2, BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_num));
	put(side, 3, bpf_ntohs(BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_dport)));
	put(side, 4, bpf_ntohl(BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_daddr)));
	put(side, 5, BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_state));
	/* Direct BTF loads. */
	put(side, 6, tp->inet_conn.icsk_inet.sk.sk_protocol);
	put(side, 7, tp->inet_conn.icsk_inet.sk.sk_type);
	put(side, 8, bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport));
	/* An IPv4 socket is no tcp6_sock; a TCP socket no udp6/unix/tw one. */
	put(side, 9, bpf_skc_to_tcp6_sock(sk) == 0);
	put(side, 10, bpf_skc_to_udp6_sock(sk) == 0 && bpf_skc_to_unix_sock(sk) == 0 &&
			      bpf_skc_to_tcp_timewait_sock(sk) == 0 && bpf_skc_to_tcp_request_sock(sk) == 0);
}

/* The current task as the BTF pointer and as the helpers see it. */
static __always_inline void current_task(__u32 side)
{
	struct task_struct *task = bpf_get_current_task_btf();
	char comm[16] = {}, tcomm[16] = {};
	__u64 same = 1;

	bpf_get_current_comm(comm, sizeof(comm));
	BPF_CORE_READ_STR_INTO(&tcomm, task, comm);
	for (int i = 0; i < 16; i++)
		if (comm[i] != tcomm[i])
			same = 0;
	put(side, 11, same);
	put(side, 12, task->tgid == (bpf_get_current_pid_tgid() >> 32));
	put(side, 13, BPF_CORE_READ(task, pid) == (__u32)bpf_get_current_pid_tgid());
	put(side, 14, (__u64)task == bpf_get_current_task());
}

SEC("sockops")
int sockops_kernel_types(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk;
	struct bpf_tcp_sock *tcp;
	__u32 side;

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		side = 0;
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		side = 1;
		break;
	default:
		return 1;
	}
	sk = skops->sk;
	if (!sk)
		return 1;
	tcp = bpf_tcp_sock(sk);
	if (tcp)
		put(side, 15, tcp->snd_cwnd);
	/* Helpers asked for by name, as programs do before calling one. */
	put(side, 11, bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_skc_to_tcp_sock));
	put(side, 12, bpf_core_enum_value(enum bpf_func_id, BPF_FUNC_tcp_sock));
	kernel_sock(side, sk);
	return 1;
}

SEC("sk_msg")
int msg_kernel_types(struct sk_msg_md *msg)
{
	struct bpf_sock *sk = msg->sk;

	if (sk)
		kernel_sock(2, sk);
	current_task(2);
	return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int verdict_kernel_types(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (sk)
		kernel_sock(3, sk);
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
