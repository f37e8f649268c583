// Odds and ends people hit: legacy packet loads, releasing a socket that
// was not acquired, strncmp against a constant, printk's format, the
// kernel's own sizes of arguments.
#include "corpus.h"

/* LD_ABS/LD_IND exist for socket filters and tc, not sk_skb */
NAKED("sk_skb/stream_verdict", sverdict_misc_bad_ld_abs)
{
	asm volatile("r6 = r1;"
		     "r0 = *(u8 *)skb[12];"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}

/* sk_msg has no socket references to release: bpf_sk_release is not
 * among its helpers */
MSG(msg_misc_bad_sk_release_not_allowed)
{
	struct bpf_sock *sk = msg->sk;
	if (!sk)
		return 1;
	bpf_sk_release(sk);
	return 1;
}

/* bpf_sk_fullsock is neither a sock_ops nor an sk_skb helper */
SOCKOPS(sockops_misc_bad_fullsock_not_allowed)
{
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	return sk->state == 1;
}

/* strncmp's third argument must be a constant string in .rodata */
MSG(msg_misc_ok_strncmp_const)
{
	char buf[8] = "abcdefg";
	return bpf_strncmp(buf, 4, "abcd") == 0;
}

NAKED("sk_msg", msg_misc_bad_strncmp_stack_str)
{
	asm volatile("r1 = 0x64636261;"
		     "*(u64 *)(r10 - 8) = r1;"
		     "r1 = r10;"
		     "r1 += -8;"
		     "r2 = 4;"
		     "r3 = r10;"
		     "r3 += -8;"
		     "call 182;"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}

/* printk's format: on the stack, nul-terminated, size given */
SVERDICT(sverdict_misc_ok_printk_args)
{
	bpf_printk("len %u proto %u", skb->len, skb->protocol);
	return 1;
}

/* the format size passes the buffer end */
NAKED("sk_skb/stream_verdict", sverdict_misc_bad_printk_fmt_size)
{
	asm volatile("r1 = 0x0a7825;"
		     "*(u64 *)(r10 - 8) = r1;"
		     "r1 = r10;"
		     "r1 += -8;"
		     "r2 = 16;"
		     "call 6;"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}

/* a helper's size argument of zero where the kernel wants a positive size */
SVERDICT(sverdict_misc_bad_load_bytes_zero_len)
{
	__u32 x;
	return bpf_skb_load_bytes(skb, 0, &x, OPAQUE(0u)) == 0;
}

/* a size bounded only by the buffer: fine */
SVERDICT(sverdict_misc_ok_load_bytes_var_len)
{
	__u8 buf[16];
	__u32 n = (skb->len & 15) + 1;
	return bpf_skb_load_bytes(skb, 0, buf, n) == 0;
}

/* one byte more than the buffer */
SVERDICT(sverdict_misc_bad_load_bytes_var_len_17)
{
	__u8 buf[16];
	__u32 n = (skb->len & 15) + 2;
	return bpf_skb_load_bytes(skb, 0, buf, n) == 0;
}

/* bpf_get_socket_cookie on sk_msg takes the msg... not available, see
 * helpers.c; bpf_get_netns_cookie with NULL: allowed for sk_msg */
MSG(msg_misc_netns_cookie_null) { return bpf_get_netns_cookie(0) & 1; }

/* redirect flags outside BPF_F_INGRESS are checked at run time */
MSG(msg_misc_ok_redirect_flags_runtime) { return bpf_msg_redirect_map(msg, &sock_map, 0, 0xff); }

/* push data with a variable start: a scalar, fine */
MSG(msg_misc_ok_push_var)
{
	bpf_msg_push_data(msg, msg->size & 0xff, 4, 0);
	return 1;
}

/* bpf_sk_redirect_map's key is any value: a pointer passes (privileged
 * programs may leak addresses) */
NAKED("sk_skb/verdict", verdict_misc_redirect_key_pointer_allowed)
{
	asm volatile("r2 = %[sock_map] ll;"
		     "r3 = r10;"
		     "r4 = 0;"
		     "call 52;"
		     "exit;"
		     :
		     : __imm_addr(sock_map)
		     : __clobber_all);
}
