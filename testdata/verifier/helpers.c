// Which helpers each program type may call: each program calls one helper
// and does nothing else, so a refusal can only be about that helper.
#include "corpus.h"

/* sk_msg */
MSG(msg_helper_ok_msg_redirect_map) { return bpf_msg_redirect_map(msg, &sock_map, 0, 0); }
MSG(msg_helper_ok_msg_redirect_hash) { __u32 k = 0; return bpf_msg_redirect_hash(msg, &sock_hash, &k, 0); }
MSG(msg_helper_ok_apply_bytes) { bpf_msg_apply_bytes(msg, 1); return 1; }
MSG(msg_helper_ok_cork_bytes) { bpf_msg_cork_bytes(msg, 1); return 1; }
MSG(msg_helper_ok_pull_data) { bpf_msg_pull_data(msg, 0, 1, 0); return 1; }
MSG(msg_helper_ok_ktime) { return bpf_ktime_get_ns() & 1; }
MSG(msg_helper_ok_prandom) { return bpf_get_prandom_u32() & 1; }
MSG(msg_helper_ok_pid_tgid) { return bpf_get_current_pid_tgid() & 1; }
MSG(msg_helper_ok_smp_id) { return bpf_get_smp_processor_id() & 1; }
MSG(msg_helper_ok_trace_printk) { bpf_printk("x"); return 1; }
MSG(msg_helper_netns_cookie) { return bpf_get_netns_cookie(msg) & 1; }
MSG(msg_helper_socket_cookie) { return bpf_get_socket_cookie(msg) & 1; }
MSG(msg_helper_bad_sk_redirect_map) { return bpf_sk_redirect_map((void *)msg, &sock_map, 0, 0); }
MSG(msg_helper_bad_skb_load_bytes) { __u32 x; return bpf_skb_load_bytes(msg, 0, &x, 4); }
MSG(msg_helper_bad_sock_map_update) { __u32 k = 0; return bpf_sock_map_update((void *)msg, &sock_map, &k, 0); }
MSG(msg_helper_bad_skb_pull_data) { return bpf_skb_pull_data((void *)msg, 1); }
MSG(msg_helper_bad_cb_flags_set) { return bpf_sock_ops_cb_flags_set((void *)msg, 0); }
MSG(msg_helper_bad_redirect) { return bpf_redirect(1, 0); }
MSG(msg_helper_bad_xdp_adjust_head) { return bpf_xdp_adjust_head((void *)msg, 0); }
MSG(msg_helper_bad_sk_lookup_tcp)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk = bpf_sk_lookup_tcp(msg, &t, sizeof(t.ipv4), 0, 0);
	if (sk)
		bpf_sk_release(sk);
	return 1;
}

/* sk_skb */
SVERDICT(skb_helper_ok_sk_redirect_map) { return bpf_sk_redirect_map(skb, &sock_map, 0, 0); }
VERDICT(skb_helper_ok_sk_redirect_hash) { __u32 k = 0; return bpf_sk_redirect_hash(skb, &sock_hash, &k, 0); }
SVERDICT(skb_helper_ok_load_bytes) { __u32 x; return bpf_skb_load_bytes(skb, 0, &x, 4) == 0; }
PARSER(skb_helper_ok_parser_load_bytes) { __u32 x; bpf_skb_load_bytes(skb, 0, &x, 4); return skb->len; }
VERDICT(skb_helper_ok_pull_data) { return bpf_skb_pull_data(skb, 1) == 0; }
SVERDICT(skb_helper_ok_socket_cookie) { return bpf_get_socket_cookie(skb) & 1; }
VERDICT(skb_helper_ok_socket_uid) { return bpf_get_socket_uid(skb) & 1; }
SVERDICT(skb_helper_ok_ktime) { return bpf_ktime_get_ns() & 1; }
PARSER(skb_helper_ok_trace_printk) { bpf_printk("x"); return skb->len; }
SVERDICT(skb_helper_bad_msg_redirect_map) { return bpf_msg_redirect_map((void *)skb, &sock_map, 0, 0); }
VERDICT(skb_helper_bad_msg_apply_bytes) { return bpf_msg_apply_bytes((void *)skb, 1); }
SVERDICT(skb_helper_bad_msg_pull_data) { return bpf_msg_pull_data((void *)skb, 0, 1, 0); }
PARSER(skb_helper_bad_sock_map_update) { __u32 k = 0; return bpf_sock_map_update((void *)skb, &sock_map, &k, 0); }
SVERDICT(skb_helper_bad_vlan_push) { return bpf_skb_vlan_push(skb, 0x8100, 1); }
VERDICT(skb_helper_bad_redirect) { return bpf_redirect(1, 0); }
SVERDICT(skb_helper_bad_cb_flags_set) { return bpf_sock_ops_cb_flags_set((void *)skb, 0); }
SVERDICT(skb_helper_ok_get_cgroup_classid) { return bpf_get_cgroup_classid(skb) & 1; }
VERDICT(skb_helper_bad_set_hash) { return bpf_set_hash(skb, 1); }
SVERDICT(skb_helper_bad_skb_get_tunnel_key)
{
	struct bpf_tunnel_key key;
	return bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0);
}

/* sock_ops */
SOCKOPS(sockops_helper_ok_sock_map_update) { __u32 k = 0; bpf_sock_map_update(skops, &sock_map, &k, BPF_ANY); return 1; }
SOCKOPS(sockops_helper_ok_sock_hash_update) { __u32 k = 0; bpf_sock_hash_update(skops, &sock_hash, &k, BPF_ANY); return 1; }
SOCKOPS(sockops_helper_ok_cb_flags_set) { bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG); return 1; }
SOCKOPS(sockops_helper_ok_setsockopt) { int v = 1; bpf_setsockopt(skops, 6, 1, &v, sizeof(v)); return 1; }
SOCKOPS(sockops_helper_ok_getsockopt) { int v = 0; bpf_getsockopt(skops, 6, 1, &v, sizeof(v)); return v & 1; }
SOCKOPS(sockops_helper_ok_socket_cookie) { return bpf_get_socket_cookie(skops) & 1; }
SOCKOPS(sockops_helper_ok_ktime) { return bpf_ktime_get_ns() & 1; }
SOCKOPS(sockops_helper_netns_cookie) { return bpf_get_netns_cookie(skops) & 1; }
SOCKOPS(sockops_helper_bad_msg_redirect_map) { return bpf_msg_redirect_map((void *)skops, &sock_map, 0, 0); }
SOCKOPS(sockops_helper_bad_sk_redirect_map) { return bpf_sk_redirect_map((void *)skops, &sock_map, 0, 0); }
SOCKOPS(sockops_helper_bad_skb_load_bytes) { __u32 x; return bpf_skb_load_bytes(skops, 0, &x, 4); }
SOCKOPS(sockops_helper_bad_skb_pull_data) { return bpf_skb_pull_data((void *)skops, 1); }
SOCKOPS(sockops_helper_bad_msg_push_data) { return bpf_msg_push_data((void *)skops, 0, 1, 0); }
SOCKOPS(sockops_helper_bad_sk_lookup_tcp)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk = bpf_sk_lookup_tcp(skops, &t, sizeof(t.ipv4), 0, 0);
	if (sk)
		bpf_sk_release(sk);
	return 1;
}
