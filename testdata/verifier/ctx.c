// Context access per program type: which fields each type may read and
// write, at which sizes and offsets (sk_msg_md, __sk_buff, bpf_sock_ops).
#include <stddef.h>
#include "corpus.h"

#define AT(ctx, T, off) (*(volatile T *)((void *)(ctx) + (off)))
#define RD(ctx, S, T, f) AT(ctx, T, offsetof(struct S, f))

#define READ(DECL, ctx, S, name, T, off)                                      \
	DECL(name) { return AT(ctx, T, off) == 7; }
#define WRITE(DECL, ctx, S, name, T, off)                                     \
	DECL(name) {                                                           \
		AT(ctx, T, off) = 7;                                           \
		return 1;                                                      \
	}
#define O(S, f) offsetof(struct S, f)

/* sk_msg_md: read-only, u32 fields, 8-byte pointers */
READ(MSG, msg, sk_msg_md, msg_ctx_ok_family, __u32, O(sk_msg_md, family))
READ(MSG, msg, sk_msg_md, msg_ctx_ok_remote_ip4, __u32, O(sk_msg_md, remote_ip4))
READ(MSG, msg, sk_msg_md, msg_ctx_ok_local_ip6_3, __u32, O(sk_msg_md, local_ip6[3]))
READ(MSG, msg, sk_msg_md, msg_ctx_ok_remote_port, __u32, O(sk_msg_md, remote_port))
READ(MSG, msg, sk_msg_md, msg_ctx_ok_local_port, __u32, O(sk_msg_md, local_port))
READ(MSG, msg, sk_msg_md, msg_ctx_ok_size, __u32, O(sk_msg_md, size))
READ(MSG, msg, sk_msg_md, msg_ctx_narrow_u8_family, __u8, O(sk_msg_md, family))
READ(MSG, msg, sk_msg_md, msg_ctx_narrow_u16_local_port, __u16, O(sk_msg_md, local_port))
READ(MSG, msg, sk_msg_md, msg_ctx_narrow_u16_remote_ip4_hi, __u16, O(sk_msg_md, remote_ip4) + 2)
READ(MSG, msg, sk_msg_md, msg_ctx_bad_data_u32, __u32, O(sk_msg_md, data))
READ(MSG, msg, sk_msg_md, msg_ctx_bad_u64_family, __u64, O(sk_msg_md, family))
READ(MSG, msg, sk_msg_md, msg_ctx_bad_past_end, __u32, sizeof(struct sk_msg_md))
READ(MSG, msg, sk_msg_md, msg_ctx_bad_unaligned, __u32, O(sk_msg_md, remote_ip4) + 1)
READ(MSG, msg, sk_msg_md, msg_ctx_bad_negative, __u32, -4)
WRITE(MSG, msg, sk_msg_md, msg_ctx_bad_write_family, __u32, O(sk_msg_md, family))
WRITE(MSG, msg, sk_msg_md, msg_ctx_bad_write_size, __u32, O(sk_msg_md, size))
WRITE(MSG, msg, sk_msg_md, msg_ctx_bad_write_local_port, __u32, O(sk_msg_md, local_port))
WRITE(MSG, msg, sk_msg_md, msg_ctx_bad_write_data, __u64, O(sk_msg_md, data))

/* __sk_buff for sk_skb */
READ(SVERDICT, skb, __sk_buff, skb_ctx_ok_len, __u32, O(__sk_buff, len))
READ(PARSER, skb, __sk_buff, skb_ctx_ok_parser_len, __u32, O(__sk_buff, len))
READ(VERDICT, skb, __sk_buff, skb_ctx_ok_protocol, __u32, O(__sk_buff, protocol))
READ(SVERDICT, skb, __sk_buff, skb_ctx_ok_priority, __u32, O(__sk_buff, priority))
READ(SVERDICT, skb, __sk_buff, skb_ctx_ok_tc_index, __u32, O(__sk_buff, tc_index))
READ(VERDICT, skb, __sk_buff, skb_ctx_ok_cb0, __u32, O(__sk_buff, cb[0]))
READ(PARSER, skb, __sk_buff, skb_ctx_ok_hash, __u32, O(__sk_buff, hash))
READ(SVERDICT, skb, __sk_buff, skb_ctx_ok_remote_port, __u32, O(__sk_buff, remote_port))
READ(VERDICT, skb, __sk_buff, skb_ctx_ok_local_ip4, __u32, O(__sk_buff, local_ip4))
READ(SVERDICT, skb, __sk_buff, skb_ctx_ok_ifindex, __u32, O(__sk_buff, ifindex))
READ(SVERDICT, skb, __sk_buff, skb_ctx_ok_gso_segs, __u32, O(__sk_buff, gso_segs))
READ(SVERDICT, skb, __sk_buff, skb_ctx_narrow_u8_len, __u8, O(__sk_buff, len))
READ(PARSER, skb, __sk_buff, skb_ctx_narrow_u16_len_hi, __u16, O(__sk_buff, len) + 2)
READ(VERDICT, skb, __sk_buff, skb_ctx_narrow_u8_protocol, __u8, O(__sk_buff, protocol) + 1)
READ(SVERDICT, skb, __sk_buff, skb_ctx_bad_mark, __u32, O(__sk_buff, mark))
READ(PARSER, skb, __sk_buff, skb_ctx_bad_tc_classid, __u32, O(__sk_buff, tc_classid))
READ(VERDICT, skb, __sk_buff, skb_ctx_bad_data_meta, __u32, O(__sk_buff, data_meta))
READ(SVERDICT, skb, __sk_buff, skb_ctx_bad_tstamp, __u64, O(__sk_buff, tstamp))
READ(SVERDICT, skb, __sk_buff, skb_ctx_bad_wire_len, __u32, O(__sk_buff, wire_len))
READ(VERDICT, skb, __sk_buff, skb_ctx_bad_hwtstamp, __u64, O(__sk_buff, hwtstamp))
READ(SVERDICT, skb, __sk_buff, skb_ctx_bad_flow_keys, __u64, O(__sk_buff, flow_keys))
READ(SVERDICT, skb, __sk_buff, skb_ctx_bad_data_u16, __u16, O(__sk_buff, data))
READ(PARSER, skb, __sk_buff, skb_ctx_bad_past_end, __u32, sizeof(struct __sk_buff))
READ(SVERDICT, skb, __sk_buff, skb_ctx_bad_u64_len, __u64, O(__sk_buff, len))
WRITE(SVERDICT, skb, __sk_buff, skb_ctx_ok_write_priority, __u32, O(__sk_buff, priority))
WRITE(VERDICT, skb, __sk_buff, skb_ctx_ok_write_tc_index, __u32, O(__sk_buff, tc_index))
WRITE(SVERDICT, skb, __sk_buff, skb_ctx_bad_write_len, __u32, O(__sk_buff, len))
WRITE(PARSER, skb, __sk_buff, skb_ctx_bad_write_mark, __u32, O(__sk_buff, mark))
WRITE(VERDICT, skb, __sk_buff, skb_ctx_bad_write_cb0, __u32, O(__sk_buff, cb[0]))
WRITE(SVERDICT, skb, __sk_buff, skb_ctx_bad_write_data, __u32, O(__sk_buff, data))
WRITE(PARSER, skb, __sk_buff, skb_ctx_bad_write_hash, __u32, O(__sk_buff, hash))
WRITE(SVERDICT, skb, __sk_buff, skb_ctx_bad_write_priority_u16, __u16, O(__sk_buff, priority))

SVERDICT(skb_ctx_ok_sk_checked)
{
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return 1;
	return sk->family == 2;
}

/* bpf_sock_ops */
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_op, __u32, O(bpf_sock_ops, op))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_args0, __u32, O(bpf_sock_ops, args[0]))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_family, __u32, O(bpf_sock_ops, family))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_remote_port, __u32, O(bpf_sock_ops, remote_port))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_is_fullsock, __u32, O(bpf_sock_ops, is_fullsock))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_snd_cwnd, __u32, O(bpf_sock_ops, snd_cwnd))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_state, __u32, O(bpf_sock_ops, state))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_bytes_received, __u64, O(bpf_sock_ops, bytes_received))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_skb_len, __u32, O(bpf_sock_ops, skb_len))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_skb_tcp_flags, __u32, O(bpf_sock_ops, skb_tcp_flags))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_sk_txhash, __u32, O(bpf_sock_ops, sk_txhash))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_narrow_u8_op, __u8, O(bpf_sock_ops, op))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_narrow_u16_family, __u16, O(bpf_sock_ops, family))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_bytes_received_u32, __u32, O(bpf_sock_ops, bytes_received))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_past_end, __u32, sizeof(struct bpf_sock_ops))
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_unaligned, __u32, O(bpf_sock_ops, family) + 2)
READ(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_skb_data_u32, __u32, O(bpf_sock_ops, skb_data))
WRITE(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_write_reply, __u32, O(bpf_sock_ops, reply))
WRITE(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_write_replylong1, __u32, O(bpf_sock_ops, replylong[1]))
WRITE(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_ok_write_sk_txhash, __u32, O(bpf_sock_ops, sk_txhash))
WRITE(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_write_op, __u32, O(bpf_sock_ops, op))
WRITE(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_write_family, __u32, O(bpf_sock_ops, family))
WRITE(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_write_snd_cwnd, __u32, O(bpf_sock_ops, snd_cwnd))
WRITE(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_write_reply_u16, __u16, O(bpf_sock_ops, reply))
WRITE(SOCKOPS, skops, bpf_sock_ops, sockops_ctx_bad_write_sk, __u64, O(bpf_sock_ops, sk))

/* ctx plus a variable offset: the verifier requires constant ctx offsets */
SVERDICT(skb_ctx_bad_variable_offset)
{
	__u32 i = OPAQUE((__u32)skb->len) & 4;
	return AT(skb, __u32, i) == 7;
}

/* the ctx pointer moved by a constant, then read: still a fixed offset */
NAKED("sk_msg", msg_ctx_bad_moved_pointer)
{
	asm volatile("r1 += 16;"
		     "r0 = *(u32 *)(r1 + 0);"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}

/* an atomic add into the ctx is never allowed */
NAKED("sockops", sockops_ctx_bad_atomic_reply)
{
	asm volatile("r2 = 1;"
		     "lock *(u32 *)(r1 + 4) += w2;"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}
