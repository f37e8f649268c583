// The BTF of the program contexts skmsg emulates, in the layout of the 6.18
// kernel (vmlinux.h beside this file; the UAPI header installed here may be
// older: its bpf_sock_ops lacks skb_hwtstamp). The loader embeds this
// object's BTF (loader/ctx_btf.o, a copy made by `go generate ./loader`)
// and resolves CO-RE relocations against it.
#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"

struct skmsg_ctx_types {
	struct __sk_buff skb;
	struct sk_msg_md msg;
	struct bpf_sock_ops sock_ops;
	struct bpf_sock sock;
	struct bpf_sock_tuple tuple;
	struct bpf_tcp_sock tcp_sock;
	struct xdp_md xdp;
	struct sk_reuseport_md reuseport;
	struct bpf_sk_lookup sk_lookup;
	enum sk_action action;
	enum bpf_map_type map_type;
};

struct skmsg_ctx_types skmsg_ctx_types;
