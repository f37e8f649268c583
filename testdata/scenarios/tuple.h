/* The sockhash keyed by a connection's 4-tuple, shared by sockops.c and
 * hashredir.c (one map when both are loaded: same name, same shape). */
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
