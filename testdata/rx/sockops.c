// sockops: counts every op (counters[op]), records whether it ran on a
// full socket (info[op] |= 1 << is_fullsock), puts established connections
// into sock_hash under their 4-tuple and asks for STATE_CB when
// config[6] is set. info[20]: sock_hash_update's return on a
// TCP_CONNECT_CB; info[21]: cb_flags_set's return.
#include "common.h"
#include "tuple.h"

SEC("sockops")
int ops_count(struct bpf_sock_ops *skops)
{
	struct tuple key = {};
	__u32 op = skops->op;

	if (op < 32) {
		__u32 *seen = bpf_map_lookup_elem(&info, &op);

		count(op);
		if (seen)
			__sync_fetch_and_or(seen, 1 << skops->is_fullsock);
	}
	switch (op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		key.local_port = 1;
		record(20, bpf_sock_hash_update(skops, &sock_hash, &key, BPF_ANY));
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		if (skops->family != 2 /* AF_INET */)
			return 1;
		if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
			int one = 1, v = 0;
			char cc[8] = {};

			record(26, bpf_setsockopt(skops, 6 /* SOL_TCP */, 1 /* TCP_NODELAY */, &one, sizeof(one)));
			record(27, bpf_setsockopt(skops, 1 /* SOL_SOCKET */, 9999, &one, sizeof(one)));
			record(28, bpf_setsockopt(skops, 6, 1, &one, 2));
			record(29, bpf_getsockopt(skops, 6, 13 /* TCP_CONGESTION */, cc, sizeof(cc)));
			/* The default congestion control differs between systems:
			 * only check that a name came back. */
			record(30, cc[0] != 0);
			record(31, bpf_getsockopt(skops, 6, 1005 /* TCP_BPF_SYN */, cc, sizeof(cc)));
			v = bpf_getsockopt(skops, 6, 1, &v, sizeof(v)) ?: v;
			record(19, v);
		}
		key.local_ip = skops->local_ip4;
		key.remote_ip = skops->remote_ip4;
		key.local_port = skops->local_port;
		key.remote_port = bpf_ntohl(skops->remote_port);
		bpf_sock_hash_update(skops, &sock_hash, &key, BPF_ANY);
		if (cfg(6))
			record(21, bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG | 0x100));
		if (op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
			record(22, skops->remote_port);
			record(23, skops->local_port);
			record(24, skops->state);
			record(25, skops->args[0]);
		}
		break;
	case BPF_SOCK_OPS_STATE_CB:
		/* args[0] old state, args[1] new state */
		count(16 + skops->args[1]);
		break;
	}
	return 1;
}
