// sockops: every established connection enters sock_hash under its
// 4-tuple (local ip, remote ip, local port, remote port; ports in host
// order).
#include "common.h"
#include "tuple.h"

SEC("sockops")
int bpf_sockops(struct bpf_sock_ops *skops)
{
	struct tuple key = {};

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		if (skops->family != 2 /* AF_INET */)
			return 1;
		key.local_ip = skops->local_ip4;
		key.remote_ip = skops->remote_ip4;
		key.local_port = skops->local_port;
		key.remote_port = bpf_ntohl(skops->remote_port);
		bpf_sock_hash_update(skops, &sock_hash, &key, BPF_ANY);
		count(1);
		break;
	}
	return 1;
}
