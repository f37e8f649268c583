// sk_msg that sends each message straight to the peer's receive queue:
// the peer's sockhash key is this socket's tuple reversed.
#include "common.h"
#include "tuple.h"

SEC("sk_msg")
int msg_to_peer(struct sk_msg_md *msg)
{
	struct tuple key = {};

	if (msg->family != 2 /* AF_INET */)
		return SK_PASS;
	key.local_ip = msg->remote_ip4;
	key.remote_ip = msg->local_ip4;
	key.local_port = bpf_ntohl(msg->remote_port);
	key.remote_port = msg->local_port;
	count(0);
	return bpf_msg_redirect_hash(msg, &sock_hash, &key, BPF_F_INGRESS);
}
