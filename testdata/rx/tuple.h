/* A sockhash keyed by a connection's 4-tuple (local ip, remote ip, local
 * port, remote port; ports in host order), shared by sockops.c and
 * mesh.c. */
struct tuple {
	__u32 local_ip;
	__u32 remote_ip;
	__u32 local_port;
	__u32 remote_port;
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 16);
	__type(key, struct tuple);
	__type(value, __u64);
} sock_hash SEC(".maps");
