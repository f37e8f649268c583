// The service-mesh pattern's send half: each message goes straight into
// the peer's receive queue; the peer's sockhash key is this socket's tuple
// reversed.
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
	count(8);
	return bpf_msg_redirect_hash(msg, &sock_hash, &key, BPF_F_INGRESS);
}

/* An sk_msg program that counts and passes (for sk_msg + sk_skb on the
 * same sockets). */
SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	count(9);
	return SK_PASS;
}
