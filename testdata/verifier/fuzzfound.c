// Edges the differential fuzzer found (internal/cmd/verifierfuzz): field
// checks the kernel makes in a pass before the walk or not at all, and
// helpers that need arguments of the right type even where the program
// type allows them. Written as instructions: clang emits neither reserved
// fields nor these helpers with a context argument.
#include "corpus.h"

#define SUB(name, body)                                                       \
	__attribute__((naked, used, noinline)) static void name(void)          \
	{                                                                      \
		asm volatile(body ::: __clobber_all);                          \
	}

#define ASM(sec, name, body)                                                   \
	NAKED(sec, name)                                                       \
	{                                                                      \
		asm volatile(body ::: __clobber_all);                          \
	}

/* exit's offset field is not checked; its immediate is */
ASM("sk_msg", msg_fuzz_ok_exit_off_ignored, "r0 = 1; .byte 0x95, 0, 1, 0, 0, 0, 0, 0;")
ASM("sk_skb/stream_verdict", sverdict_fuzz_bad_exit_imm_reserved, "r0 = 1; .byte 0x95, 0, 0, 0, 1, 0, 0, 0;")
ASM("sockops", sockops_fuzz_bad_exit_dst_reserved, "r0 = 1; .byte 0x95, 0x01, 0, 0, 0, 0, 0, 0;")
/* a load's immediate must be zero, checked before the walk: this
 * refusal wins over the uninitialised r5 read before it */
ASM("sk_msg", msg_fuzz_bad_ldx_imm_before_uninit, "r0 = r5; .byte 0x61, 0x12, 0, 0, 1, 0, 0, 0; r0 = 1; exit;")
/* the same load with a zero immediate: the uninitialised read refuses */
ASM("sk_msg", msg_fuzz_bad_uninit_before_ldx, "r0 = r5; .byte 0x61, 0x12, 0, 0, 0, 0, 0, 0; r0 = 1; exit;")
/* an access on the side of a data_end comparison where the pointer is
 * known to be past the end: EINVAL, where an access past a proven range
 * is EACCES (pkt_bounds.c) */
ASM("sk_msg", msg_fuzz_bad_pkt_write_known_beyond_end,
    "w0 = 0; r2 = *(u64 *)(r1 + 0); r2 += 4; r1 = *(u64 *)(r1 + 8);"
    "if r2 <= r1 goto +1; *(u8 *)(r2 + 0) = r0; exit;")
ASM("sk_msg", msg_fuzz_bad_nop_jump_then_pkt_write_beyond_end,
    "w0 = 0; r2 = *(u64 *)(r1 + 0); r2 += 4; r1 = *(u64 *)(r1 + 8);"
    "if r2 <= r1 goto +2; goto +0; *(u8 *)(r2 + 0) = r0; exit;")
ASM("sk_skb/stream_verdict", sverdict_fuzz_bad_pkt_read_known_beyond_end,
    "r2 = *(u32 *)(r1 + 76); r3 = *(u32 *)(r1 + 80); r4 = r2; r4 += 8;"
    "if r4 <= r3 goto +1; r0 = *(u8 *)(r4 + 0); r0 = 1; exit;")
/* the same side through data itself, which is not known to be past the
 * end (only data + 8 is): EACCES */
ASM("sk_skb/stream_verdict", sverdict_fuzz_bad_pkt_read_unproven_side,
    "r2 = *(u32 *)(r1 + 76); r3 = *(u32 *)(r1 + 80); r4 = r2; r4 += 8;"
    "if r4 <= r3 goto +1; r0 = *(u8 *)(r2 + 0); r0 = 1; exit;")
ASM("sk_skb/stream_verdict", sverdict_fuzz_ok_pkt_read_proven_side,
    "r2 = *(u32 *)(r1 + 76); r3 = *(u32 *)(r1 + 80); r4 = r2; r4 += 8;"
    "if r4 > r3 goto +1; r0 = *(u8 *)(r2 + 7); r0 = 1; exit;")
/* the pointer is past the end only by what the comparison says: one
 * byte short of the end is an EACCES */
ASM("sk_skb/verdict", verdict_fuzz_bad_pkt_read_one_past_proven,
    "r2 = *(u32 *)(r1 + 76); r3 = *(u32 *)(r1 + 80); r4 = r2; r4 += 8;"
    "if r4 > r3 goto +1; r0 = *(u8 *)(r2 + 8); r0 = 1; exit;")

/* helpers the program types may call, called with the context where a
 * map, a map value or a dynptr belongs */
ASM("sk_skb/stream_verdict", sverdict_fuzz_bad_timer_init_ctx, "r2 = 0; r3 = 0; call 169; r0 = 1; exit;")
ASM("sk_skb/verdict", verdict_fuzz_bad_task_under_cgroup_ctx, "r2 = 0; call 37; r0 = 1; exit;")
ASM("sk_skb/stream_parser", parser_fuzz_bad_dynptr_write_ctx, "r2 = 0; r3 = r10; r3 += -8; r4 = 8; r5 = 0; call 202; r0 = 0; exit;")
ASM("sk_msg", msg_fuzz_bad_ringbuf_reserve_dynptr_ctx, "r2 = 8; r3 = 0; r4 = r10; r4 += -16; call 198; r0 = 1; exit;")
ASM("sockops", sockops_fuzz_bad_spin_unlock_ctx, "call 94; r0 = 1; exit;")
ASM("sk_msg", msg_fuzz_bad_snprintf_btf_ctx, "r2 = 8; r3 = r10; r3 += -16; r4 = 16; r5 = 0; call 149; r0 = 1; exit;")
ASM("sockops", sockops_fuzz_bad_perf_event_read_ctx, "r2 = 0; call 22; r0 = 1; exit;")
/* a helper of cgroup programs */
ASM("sockops", sockops_fuzz_bad_set_retval, "r1 = 0; call 187; r0 = 1; exit;")

/* xor on a map value pointer */
NAKED("sk_msg", msg_fuzz_bad_map_value_xor)
{
	asm volatile("r1 = 0;"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "r1 = 8;"
		     "r0 ^= r1;"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}

/* A second packet check against a shorter length after a longer one is
 * decided by the range the first proved: the back-edge below is never
 * taken, so there is no loop to refuse */
ASM("sk_skb/verdict", verdict_fuzz_ok_pkt_recheck_back_edge_dead,
    "w0 = 0; r2 = *(u32 *)(r1 + 76); r1 = *(u32 *)(r1 + 80);"
    "r3 = r2; r3 += 8; if r3 > r1 goto +7;"
    "r3 = r2; r3 += 2; if r3 > r1 goto -4;"
    "r1 = *(u8 *)(r2 + 7); w0 = 1; if r1 == 7 goto +1; w0 = 0; exit;")

/* a 32-bit compare of a pointer with 0 can go either way, even for a
 * lookup that cannot fail: the taken branch here reads r2 after the call
 * clobbered it */
NAKED("sk_msg", msg_fuzz_bad_w32_null_check_back_edge)
{
	asm volatile("r1 = 0;"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "l0_%=:"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "if w0 == 0 goto l0_%=;"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}

/* the same with the 64-bit compare: a non-NULL pointer never equals 0 */
NAKED("sk_msg", msg_fuzz_ok_r64_null_check_back_edge)
{
	asm volatile("r1 = 0;"
		     "*(u32 *)(r10 - 4) = r1;"
		     "r2 = r10;"
		     "l0_%=:"
		     "r2 += -4;"
		     "r1 = %[arr16] ll;"
		     "call 1;"
		     "if r0 == 0 goto l0_%=;"
		     "r0 = 1;"
		     "exit;"
		     :
		     : __imm_addr(arr16)
		     : __clobber_all);
}

/* bpf_loop's callback writes past the 8-byte loop context: refused when
 * the loop may run, not verified at all when nr_loops is the constant 0 */
SUB(write_past_cb, "*(u64 *)(r2 + 8) = r1; r0 = 0; exit;")
ASM("sk_skb/stream_parser", parser_fuzz_bad_loop_cb_past_ctx_n1,
    "r6 = r1; r1 = 0; *(u64 *)(r10 - 8) = r1; r1 = 1; r2 = write_past_cb ll; r3 = r10; r3 += -8; r4 = 0;"
    "call 181; r0 = *(u32 *)(r6 + 0); exit;")
ASM("sk_skb/stream_parser", parser_fuzz_loop_cb_past_ctx_n0,
    "r6 = r1; r1 = 0; *(u64 *)(r10 - 8) = r1; r1 = 0; r2 = write_past_cb ll; r3 = r10; r3 += -8; r4 = 0;"
    "call 181; r0 = *(u32 *)(r6 + 0); exit;")

/* a sleepable helper from a program that may not sleep */
ASM("sk_skb/stream_verdict", sverdict_fuzz_bad_copy_from_user,
    "r1 = r10; r1 += -8; r2 = 8; r3 = 0; call 148; r0 = 1; exit;")
/* per-CPU pointer helpers want a per-CPU kernel pointer */
ASM("sk_skb/verdict", verdict_fuzz_bad_this_cpu_ptr_ctx, "call 154; r0 = 1; exit;")

/* a NULL check must compare with the constant 0: a register holding 0
 * does not make the socket non-NULL */
NAKED("sk_skb/stream_verdict", sverdict_fuzz_bad_null_check_against_zero_reg)
{
	asm volatile("r6 = r1;"
		     "r8 = 0;"
		     "*(u64 *)(r10 - 8) = r8;"
		     "*(u64 *)(r10 - 16) = r8;"
		     "r2 = r10;"
		     "r2 += -16;"
		     "r1 = r6;"
		     "r3 = 12;"
		     "r4 = -1;"
		     "r5 = 0;"
		     "call 84;"
		     "if r0 == r8 goto l0_%=;"
		     "r1 = r0;"
		     "call 86;"
		     "l0_%=:"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}

NAKED("sk_skb/stream_verdict", sverdict_fuzz_ok_null_check_against_imm)
{
	asm volatile("r6 = r1;"
		     "r8 = 0;"
		     "*(u64 *)(r10 - 8) = r8;"
		     "*(u64 *)(r10 - 16) = r8;"
		     "r2 = r10;"
		     "r2 += -16;"
		     "r1 = r6;"
		     "r3 = 12;"
		     "r4 = -1;"
		     "r5 = 0;"
		     "call 84;"
		     "if r0 == 0 goto l0_%=;"
		     "r1 = r0;"
		     "call 86;"
		     "l0_%=:"
		     "r0 = 1;"
		     "exit;" ::: __clobber_all);
}

/* helpers whose memory arguments may not point into the packet */
ASM("sk_skb/verdict", verdict_fuzz_bad_load_bytes_into_packet,
    "r6 = r1; r2 = *(u32 *)(r1 + 80); r3 = *(u32 *)(r1 + 76); r4 = r3; r4 += 4;"
    "if r4 > r2 goto +4; r1 = r6; r2 = 0; r4 = 4; call 26; r0 = 1; exit;")

/* a scalar spilled with a 4-byte store keeps its identity: the compare
 * after the fill pins both copies, and sock_ops' return is in range */
ASM("sockops", sockops_fuzz_ok_u32_spill_keeps_scalar_id,
    "r9 = *(u32 *)(r1 + 0); *(u32 *)(r10 - 8) = r9; r7 = *(u32 *)(r10 - 8);"
    "r8 = 0; if w8 >= w9 goto +1; r7 = 0; r0 = r7; exit;")

/* the same re-check jumping back before the first check's add: the state
 * at the back-edge repeats, an infinite loop */
ASM("sk_skb/verdict", verdict_fuzz_bad_pkt_recheck_infinite_loop,
    "w0 = 0; r2 = *(u32 *)(r1 + 76); r1 = *(u32 *)(r1 + 80);"
    "r3 = r2; r3 += 8; if r3 > r1 goto +7;"
    "r3 = r2; r3 += 2; if r3 > r1 goto -5;"
    "r1 = *(u8 *)(r2 + 7); w0 = 1; if r1 == 7 goto +1; w0 = 0; exit;")
