// The stack: uninitialised registers and slots (privileged loads may read
// uninitialised stack, never an uninitialised register), frame bounds,
// alignment, variable offsets, spilled pointers.
#include "corpus.h"

#define ASM_PROG(sec, name, body)                                              \
	NAKED(sec, name)                                                       \
	{                                                                      \
		asm volatile(body "exit;" : : __imm_addr(arr16) : __clobber_all); \
	}

ASM_PROG("sk_msg", msg_reg_bad_uninit_r2, "r0 = r2;")
ASM_PROG("sk_msg", msg_reg_bad_uninit_r0_exit, "")
ASM_PROG("sk_skb/stream_verdict", sverdict_reg_bad_r1_after_helper, "call 5; r0 = r1;")
ASM_PROG("sk_skb/stream_verdict", sverdict_reg_ok_r6_after_helper, "r6 = r1; call 5; r0 = *(u32 *)(r6 + 0);")
ASM_PROG("sockops", sockops_reg_bad_r5_after_helper, "r5 = 1; call 5; r0 = r5;")
ASM_PROG("sk_skb/verdict", verdict_stack_ok_uninit_read, "r0 = *(u64 *)(r10 - 8);")
ASM_PROG("sk_skb/verdict", verdict_stack_ok_partial_init_read, "r1 = 0; *(u32 *)(r10 - 8) = r1; r0 = *(u64 *)(r10 - 8);")
ASM_PROG("sk_skb/stream_parser", parser_stack_bad_below_frame, "r0 = *(u64 *)(r10 - 520);")
ASM_PROG("sk_skb/stream_parser", parser_stack_ok_bottom_slot, "r1 = 0; *(u64 *)(r10 - 512) = r1; r0 = *(u32 *)(r10 - 512);")
ASM_PROG("sk_skb/stream_parser", parser_stack_bad_at_fp, "r0 = *(u64 *)(r10 + 0);")
ASM_PROG("sk_msg", msg_stack_bad_above_fp, "r1 = 0; *(u32 *)(r10 + 4) = r1; r0 = 1;")
ASM_PROG("sk_msg", msg_stack_bad_misaligned_write, "r1 = 0; *(u32 *)(r10 - 6) = r1; r0 = 1;")
ASM_PROG("sk_msg", msg_stack_bad_misaligned_read, "r1 = 0; *(u64 *)(r10 - 8) = r1; r0 = *(u32 *)(r10 - 7);")
ASM_PROG("sockops", sockops_stack_ok_byte_access, "r1 = 0; *(u8 *)(r10 - 3) = r1; r0 = *(u8 *)(r10 - 3);")
ASM_PROG("sockops", sockops_stack_bad_straddles_frame, "r1 = 0; *(u64 *)(r10 - 516) = r1; r0 = 1;")

/* variable offsets into the stack */
ASM_PROG("sk_skb/stream_verdict", sverdict_stack_ok_var_read_initialised,
	 "r2 = 0; *(u64 *)(r10 - 16) = r2; *(u64 *)(r10 - 8) = r2;"
	 "r2 = *(u32 *)(r1 + 0); r2 &= 7; r3 = r10; r3 += -16; r3 += r2; r0 = *(u8 *)(r3 + 0);")
ASM_PROG("sk_skb/stream_verdict", sverdict_stack_var_read_uninit,
	 "r2 = *(u32 *)(r1 + 0); r2 &= 7; r3 = r10; r3 += -16; r3 += r2; r0 = *(u8 *)(r3 + 0);")
ASM_PROG("sk_skb/stream_verdict", sverdict_stack_bad_var_past_fp,
	 "r2 = *(u32 *)(r1 + 0); r2 &= 31; r3 = r10; r3 += -16; r3 += r2; r0 = *(u8 *)(r3 + 0);")
ASM_PROG("sk_skb/verdict", verdict_stack_ok_var_write,
	 "r2 = *(u32 *)(r1 + 0); r2 &= 7; r3 = r10; r3 += -16; r3 += r2; r1 = 0; *(u8 *)(r3 + 0) = r1; r0 = 1;")
ASM_PROG("sk_skb/verdict", verdict_stack_bad_var_unbounded,
	 "r2 = *(u32 *)(r1 + 0); r3 = r10; r3 += -16; r3 += r2; r0 = *(u8 *)(r3 + 0);")
ASM_PROG("sockops", sockops_stack_bad_var_negative_reach,
	 "r2 = *(u32 *)(r1 + 0); r2 &= 1023; r3 = r10; r3 -= r2; r0 = *(u8 *)(r3 - 1);")

/* spilled pointers: an 8-byte spill keeps the type, anything less does not */
ASM_PROG("sk_msg", msg_spill_ok_ctx_roundtrip, "*(u64 *)(r10 - 8) = r1; r2 = *(u64 *)(r10 - 8); r0 = *(u32 *)(r2 + 16);")
ASM_PROG("sk_msg", msg_spill_bad_ctx_u32_fill, "*(u64 *)(r10 - 8) = r1; r2 = *(u32 *)(r10 - 8); r0 = *(u32 *)(r2 + 16);")
ASM_PROG("sk_msg", msg_spill_bad_byte_overwritten,
	 "*(u64 *)(r10 - 8) = r1; r3 = 0; *(u8 *)(r10 - 5) = r3; r2 = *(u64 *)(r10 - 8); r0 = *(u32 *)(r2 + 16);")
ASM_PROG("sk_skb/stream_verdict", sverdict_spill_bad_u32_spill_of_ptr,
	 "*(u32 *)(r10 - 8) = r1; r2 = *(u64 *)(r10 - 8); r0 = *(u32 *)(r2 + 0);")
ASM_PROG("sk_skb/stream_verdict", sverdict_spill_ok_across_call,
	 "*(u64 *)(r10 - 8) = r1; call 5; r1 = *(u64 *)(r10 - 8); r0 = *(u32 *)(r1 + 0);")
ASM_PROG("sk_skb/verdict", verdict_spill_ok_scalar_bounds_kept,
	 "r6 = r1;" "r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10; r2 += -4; r1 = %[arr16] ll; call 1;"
	 "if r0 == 0 goto +5; r1 = *(u32 *)(r6 + 0); r1 &= 15; *(u64 *)(r10 - 16) = r1; r1 = *(u64 *)(r10 - 16); r0 += r1; r0 = *(u8 *)(r0 + 0); r0 = 1;")
ASM_PROG("sk_skb/verdict", verdict_spill_bad_scalar_bounds_lost_u8_fill,
	 "r6 = r1;" "r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10; r2 += -4; r1 = %[arr16] ll; call 1;"
	 "if r0 == 0 goto +5; r1 = *(u32 *)(r6 + 0); r1 &= 15; *(u8 *)(r10 - 16) = r1; r1 = *(u64 *)(r10 - 16); r0 += r1; r0 = *(u8 *)(r0 + 0); r0 = 1;")
ASM_PROG("sockops", sockops_spill_ok_map_value_ptr,
	 "r1 = 0; *(u32 *)(r10 - 4) = r1; r2 = r10; r2 += -4; r1 = %[arr16] ll; call 1;"
	 "if r0 == 0 goto +4; *(u64 *)(r10 - 16) = r0; call 5; r1 = *(u64 *)(r10 - 16); r0 = *(u8 *)(r1 + 15); r0 = 1;")
ASM_PROG("sockops", sockops_spill_bad_stack_ptr_u16_fill,
	 "r2 = r10; r2 += -32; *(u64 *)(r10 - 8) = r2; r3 = *(u16 *)(r10 - 8); r0 = *(u64 *)(r3 + 0);")
