// sk_msg redirects: to the egress of sock_map[1], or to its ingress.
#include "common.h"

SEC("sk_msg")
int msg_redir_egress(struct sk_msg_md *msg)
{
	count(0);
	return bpf_msg_redirect_map(msg, &sock_map, 1, 0);
}

SEC("sk_msg")
int msg_redir_ingress(struct sk_msg_md *msg)
{
	count(0);
	return bpf_msg_redirect_map(msg, &sock_map, 1, BPF_F_INGRESS);
}
