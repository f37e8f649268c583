// Atomic instructions: which memory they may touch (map values, the
// stack; not the context or the packet), and their operand sizes.
#include "corpus.h"

MSG(msg_atomic_ok_map_add)
{
	__u64 *v = bpf_map_lookup_elem(&hash64, &(__u64){1});
	if (!v)
		return 1;
	__sync_fetch_and_add(v, 1);
	return 1;
}
MSG(msg_atomic_ok_map_cmpxchg)
{
	__u64 *v = bpf_map_lookup_elem(&hash64, &(__u64){1});
	if (!v)
		return 1;
	return __sync_val_compare_and_swap(v, 0, 1) & 1;
}
SVERDICT(sverdict_atomic_ok_map_xchg)
{
	__u64 *v = bpf_map_lookup_elem(&hash64, &(__u64){1});
	if (!v)
		return 1;
	return __atomic_exchange_n(v, 5, __ATOMIC_SEQ_CST) & 1;
}
SVERDICT(sverdict_atomic_ok_fetch_or_u32)
{
	__u32 k = 0;
	struct val16 *v = bpf_map_lookup_elem(&arr16, &k);
	if (!v)
		return 1;
	return __sync_fetch_and_or((__u32 *)&v->b[4], 1) & 1;
}
VERDICT(verdict_atomic_ok_stack)
{
	volatile __u64 x = 0;
	__sync_fetch_and_add(&x, 1);
	return x & 1;
}
NAKED("sk_skb/verdict", verdict_atomic_bad_packet)
{
	asm volatile("r2 = *(u32 *)(r1 + 76);"
		     "r3 = *(u32 *)(r1 + 80);"
		     "r4 = r2;"
		     "r4 += 8;"
		     "if r4 > r3 goto l0_%=;"
		     "r5 = 1;"
		     "lock *(u64 *)(r2 + 0) += r5;"
		     "l0_%=:"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}
/* atomics need natural alignment, even where plain accesses do not */
NAKED("sk_msg", msg_atomic_bad_unaligned_map)
{
	asm volatile("r1 = 0;"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "r1 = 1;"
		     "lock *(u64 *)(r0 + 4) += r1;"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}
NAKED("sk_msg", msg_atomic_bad_past_value)
{
	asm volatile("r1 = 0;"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "r1 = 1;"
		     "lock *(u64 *)(r0 + 16) += r1;"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}
/* an atomic on uninitialised stack: the read half reads it */
NAKED("sockops", sockops_atomic_uninit_stack)
{
	asm volatile("r1 = 1;"
		     "lock *(u64 *)(r10 - 8) += r1;"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}
/* the operand register must be initialised */
NAKED("sockops", sockops_atomic_bad_uninit_operand)
{
	asm volatile("r1 = 0;"
		     "*(u64 *)(r10 - 8) = r1;"
		     "lock *(u64 *)(r10 - 8) += r2;"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}
/* a pointer as the operand of an atomic add into a map value */
NAKED("sk_skb/stream_parser", parser_atomic_pointer_operand)
{
	asm volatile("r6 = r1;"
		     "r1 = 0;"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "lock *(u64 *)(r0 + 0) += r6;"
		     "r0 = 0;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}
