// Verdict-only (no parser): every received skb goes to the ingress of
// sock_map[1].
#include "common.h"

SEC("sk_skb/stream_verdict")
int skb_redir_ingress(struct __sk_buff *skb)
{
	count(0);
	return bpf_sk_redirect_map(skb, &sock_map, 1, BPF_F_INGRESS);
}
