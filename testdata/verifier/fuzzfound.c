// Edges the differential fuzzer found (internal/cmd/verifierfuzz): field
// checks the kernel makes in a pass before the walk or not at all, and
// helpers that need arguments of the right type even where the program
// type allows them. Written as instructions: clang emits neither reserved
// fields nor these helpers with a context argument.
#include "corpus.h"

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
