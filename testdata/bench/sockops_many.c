// sockops that puts every established IPv4 connection into a sockhash big
// enough for tens of thousands of sockets, keyed by its 4-tuple (ports in
// host order): the scale benchmark's program.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct tuple {
	__u32 local_ip;
	__u32 remote_ip;
	__u32 local_port;
	__u32 remote_port;
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 32768);
	__type(key, struct tuple);
	__type(value, __u64);
} many_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inserted SEC(".maps");

SEC("sockops")
int sockops_many(struct bpf_sock_ops *skops)
{
	struct tuple key = {};
	__u32 zero = 0;
	__u64 *n;

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		if (skops->family != 2 /* AF_INET */)
			return 1;
		key.local_ip = skops->local_ip4;
		key.remote_ip = skops->remote_ip4;
		key.local_port = skops->local_port;
		key.remote_port = bpf_ntohl(skops->remote_port);
		if (bpf_sock_hash_update(skops, &many_hash, &key, BPF_ANY) == 0) {
			n = bpf_map_lookup_elem(&inserted, &zero);
			if (n)
				__sync_fetch_and_add(n, 1);
		}
		break;
	}
	return 1;
}

char _license[] SEC("license") = "GPL";
