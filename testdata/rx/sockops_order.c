// sockops_order: logs every sock_ops callback in the order the kernel
// delivers them, for both ends of every connection: oplog[n] is the n-th
// callback (n counted in counters[31]). config[0] asks for STATE_CB:
// 1 from TCP_CONNECT_CB and TCP_LISTEN_CB on (a child inherits the
// listener's flags), 2 from the ESTABLISHED callbacks on.
//
// It also pairs the two ends as service meshes do: the active side
// records its 4-tuple at ACTIVE_ESTABLISHED in `pending`; the passive
// side looks the reversed tuple up at PASSIVE_ESTABLISHED, writes the
// pairing to `paired` and deletes the record. counters[30] counts passive
// callbacks that found no record (the active side had not run yet).
// info[op] holds what bpf_sock_ops_cb_flags_set returned in callback op.
#include "common.h"
#include "tuple.h"

struct entry {
	__u32 op;
	__u32 local_port;
	__u32 remote_port;
	__u32 state;
	__u32 arg0;
	__u32 arg1;
	__u32 fullsock;
	__u32 cb_flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct entry);
} oplog SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct tuple);
	__type(value, __u32);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct tuple);
	__type(value, __u32);
} paired SEC(".maps");

static __always_inline void log_op(struct bpf_sock_ops *skops)
{
	__u32 idx = 31;
	__u64 *n = bpf_map_lookup_elem(&counters, &idx);
	struct entry e = {};
	__u32 slot;

	if (!n)
		return;
	slot = __sync_fetch_and_add(n, 1);
	e.op = skops->op;
	e.local_port = skops->local_port;
	e.remote_port = bpf_ntohl(skops->remote_port);
	e.state = skops->state;
	e.arg0 = skops->args[0];
	e.arg1 = skops->args[1];
	e.fullsock = skops->is_fullsock;
	if (skops->is_fullsock)
		e.cb_flags = skops->bpf_sock_ops_cb_flags;
	if (slot < 64)
		bpf_map_update_elem(&oplog, &slot, &e, BPF_ANY);
}

SEC("sockops")
int order(struct bpf_sock_ops *skops)
{
	struct tuple t = {};
	__u32 op = skops->op;
	__u32 want = cfg(0);

	log_op(skops);
	if (skops->family != 2 /* AF_INET */)
		return 1;
	t.local_ip = skops->local_ip4;
	t.remote_ip = skops->remote_ip4;
	t.local_port = skops->local_port;
	t.remote_port = bpf_ntohl(skops->remote_port);
	switch (op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		if (want == 1)
			record(op, bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG));
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: {
		__u32 v = t.local_port;

		bpf_map_update_elem(&pending, &t, &v, BPF_ANY);
		if (want == 2)
			record(op, bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG));
		break;
	}
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: {
		struct tuple peer = {
			.local_ip = t.remote_ip,
			.remote_ip = t.local_ip,
			.local_port = t.remote_port,
			.remote_port = t.local_port,
		};
		__u32 *v = bpf_map_lookup_elem(&pending, &peer);

		if (v) {
			__u32 p = *v;

			bpf_map_update_elem(&paired, &t, &p, BPF_ANY);
			bpf_map_delete_elem(&pending, &peer);
		} else {
			count(30);
		}
		if (want == 2)
			record(op, bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG));
		break;
	}
	}
	return 1;
}
