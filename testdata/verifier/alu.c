// ALU rules, as instructions: division by zero, shifts, pointer arithmetic
// (which operators, on which pointer types), 32-bit bounds and signed
// comparisons feeding a map value access, unreachable code.
#include "corpus.h"

#define LOOKUP_R0                                                             \
	"r6 = r1;"                                                            \
	"r1 = 0;"                                                             \
	"*(u32 *)(r10 - 4) = r1;"                                             \
	"r2 = r10;"                                                           \
	"r2 += -4;"                                                           \
	"r1 = %[arr16] ll;"                                                   \
	"call 1;"                                                             \
	"if r0 == 0 goto out_%=;"

#define ALU_PROG(sec, name, body)                                              \
	NAKED(sec, name)                                                       \
	{                                                                      \
		asm volatile(body "r0 = 1;"                                    \
				  "exit;" ::: __clobber_all);                  \
	}

#define MAP_PROG(sec, name, body)                                              \
	NAKED(sec, name)                                                       \
	{                                                                      \
		asm volatile(LOOKUP_R0 body "out_%=:"                                    \
				  "r0 = 1;"                                    \
				  "exit;"                                      \
			     :                                                 \
			     : __imm_addr(arr16)                               \
			     : __clobber_all);                                 \
	}

/* division and modulo */
ALU_PROG("sk_msg", msg_alu_bad_div_imm_zero, "r1 = 5; r1 /= 0;")
ALU_PROG("sk_msg", msg_alu_bad_mod_imm_zero, "r1 = 5; .byte 0x97, 0x01, 0, 0, 0, 0, 0, 0;")
ALU_PROG("sk_skb/stream_verdict", sverdict_alu_bad_div32_imm_zero, "w1 = 5; w1 /= 0;")
ALU_PROG("sk_skb/stream_verdict", sverdict_alu_ok_div_reg_maybe_zero, "r1 = *(u32 *)(r1 + 0); r2 = 5; r2 /= r1;")
ALU_PROG("sockops", sockops_alu_ok_mod_reg_zero, "r1 = 0; r2 = 5; .byte 0x9f, 0x12, 0, 0, 0, 0, 0, 0;")
ALU_PROG("sockops", sockops_alu_ok_div32_reg_zero, "w1 = 0; w2 = 5; w2 /= w1;")
ALU_PROG("sk_skb/verdict", verdict_alu_ok_div_imm, "r1 = *(u32 *)(r1 + 0); r1 /= 3;")

/* modulo is written as raw bytes: clang 14 cannot assemble it */

/* shifts: an immediate shift past the register width is refused */
ALU_PROG("sk_msg", msg_alu_bad_lsh_64, "r1 = 1; r1 <<= 64;")
ALU_PROG("sk_msg", msg_alu_ok_lsh_63, "r1 = 1; r1 <<= 63;")
ALU_PROG("sk_skb/stream_parser", parser_alu_bad_rsh32_32, "w1 = 1; w1 >>= 32;")
ALU_PROG("sk_skb/stream_parser", parser_alu_ok_rsh32_31, "w1 = 1; w1 >>= 31;")
ALU_PROG("sockops", sockops_alu_bad_arsh_64, "r1 = 1; r1 s>>= 64;")
ALU_PROG("sockops", sockops_alu_ok_shift_by_reg, "r2 = *(u32 *)(r1 + 0); r1 = 1; r1 <<= r2;")

/* pointer arithmetic */
ALU_PROG("sk_msg", msg_ptr_bad_mul_ctx, "r1 *= 2;")
ALU_PROG("sk_msg", msg_ptr_bad_or_stack, "r2 = r10; r2 |= 1;")
ALU_PROG("sk_msg", msg_ptr_bad_ptr_plus_ptr, "r2 = r10; r2 += r1;")
ALU_PROG("sk_skb/stream_verdict", sverdict_ptr_bad_alu32_on_ptr, "r2 = r10; w2 += 8;")
ALU_PROG("sk_skb/stream_verdict", sverdict_ptr_neg_ptr_is_scalar, "r2 = r10; r2 = -r2;")
ALU_PROG("sk_skb/stream_verdict", sverdict_ptr_bad_scalar_minus_ptr, "r2 = 100; r2 -= r10;")
ALU_PROG("sk_skb/verdict", verdict_ptr_bad_write_fp, "r10 = 0;")
ALU_PROG("sk_skb/verdict", verdict_ptr_ok_stack_add_sub, "r2 = r10; r2 += -16; r2 += 8; r1 = 0; *(u64 *)(r2 + 0) = r1;")
ALU_PROG("sk_skb/verdict", verdict_ptr_ok_pkt_minus_pkt,
	 "r2 = *(u32 *)(r1 + 76); r3 = *(u32 *)(r1 + 80); r3 -= r2;")
ALU_PROG("sockops", sockops_ptr_bad_stack_mov32_deref, "w2 = w10; r0 = *(u64 *)(r2 - 8);")
ALU_PROG("sockops", sockops_ptr_ok_ptr_compare_scalar, "r2 = r10; if r2 == 0 goto +0;")
ALU_PROG("sk_msg", msg_ptr_bad_ctx_sub_var, "r2 = *(u32 *)(r1 + 68); r1 -= r2; r0 = *(u32 *)(r1 + 16);")

/* map value pointers plus scalars: r0 is the value of arr16[0], r6 the
 * ctx; an unknown 64-bit scalar is read from the uninitialised slot at
 * fp-8 (which privileged programs may read), an unknown 32-bit one from
 * its low half */
MAP_PROG("sk_msg", msg_mapptr_bad_unbounded_add, "r1 = *(u64 *)(r10 - 8); r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_msg", msg_mapptr_ok_and_15, "r1 = *(u32 *)(r10 - 8); r1 &= 15; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_msg", msg_mapptr_bad_and_15_plus_1, "r1 = *(u32 *)(r10 - 8); r1 &= 15; r1 += 1; r0 += r1; r0 = *(u8 *)(r0 + 0);")
/* a 32-bit compare bounds the low half only: r1 came from a 64-bit load */
MAP_PROG("sk_skb/stream_verdict", sverdict_mapptr_bad_w32_bound_of_u64,
	 "r1 = *(u64 *)(r10 - 8); if w1 > 15 goto out_%=; r0 += r1; r0 = *(u8 *)(r0 + 0);")
/* the same compare on a zero-extended 32-bit load bounds it all */
MAP_PROG("sk_skb/stream_verdict", sverdict_mapptr_ok_w32_bound_of_u32,
	 "r1 = *(u32 *)(r10 - 4); if w1 > 15 goto out_%=; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_skb/stream_verdict", sverdict_mapptr_ok_w32_mov_zext,
	 "r1 = *(u64 *)(r10 - 8); w1 = w1; if w1 > 15 goto out_%=; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_skb/verdict", verdict_mapptr_bad_signed_upper_only,
	 "r1 = *(u64 *)(r10 - 8); if r1 s> 15 goto out_%=; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_skb/verdict", verdict_mapptr_ok_signed_both,
	 "r1 = *(u64 *)(r10 - 8); if r1 s> 15 goto out_%=; if r1 s< 0 goto out_%=; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_skb/verdict", verdict_mapptr_ok_unsigned_upper,
	 "r1 = *(u64 *)(r10 - 8); if r1 > 15 goto out_%=; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_skb/verdict", verdict_mapptr_bad_unsigned_upper_16,
	 "r1 = *(u64 *)(r10 - 8); if r1 > 16 goto out_%=; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sockops", sockops_mapptr_ok_and_then_or,
	 "r1 = *(u64 *)(r10 - 8); r1 &= 7; r1 |= 8; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sockops", sockops_mapptr_ok_rsh_bound, "r1 = *(u32 *)(r10 - 8); r1 >>= 28; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sockops", sockops_mapptr_bad_rsh_bound_27, "r1 = *(u32 *)(r10 - 8); r1 >>= 27; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_skb/stream_parser", parser_mapptr_bad_mod_16_not_tracked, "r1 = *(u64 *)(r10 - 8); .byte 0x97, 0x01, 0, 0, 16, 0, 0, 0; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_skb/stream_parser", parser_mapptr_bad_mod_17, "r1 = *(u64 *)(r10 - 8); .byte 0x97, 0x01, 0, 0, 17, 0, 0, 0; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_skb/stream_parser", parser_mapptr_ok_sub_from_15, "r1 = *(u32 *)(r10 - 8); r1 &= 7; r2 = 15; r2 -= r1; r0 += r2; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_msg", msg_mapptr_bad_mul_overflow, "r1 = *(u32 *)(r10 - 8); r1 &= 15; r1 *= 2; r0 += r1; r0 = *(u8 *)(r0 + 0);")
MAP_PROG("sk_msg", msg_mapptr_ok_neg_then_bound,
	 "r1 = *(u64 *)(r10 - 8); r1 = -r1; if r1 > 8 goto out_%=; r0 += r1; r0 = *(u64 *)(r0 + 0);")

/* control flow */
NAKED("sk_msg", msg_cfg_bad_unreachable)
{
	asm volatile("r0 = 1;"
		     "exit;"
		     "r0 = 2;"
		     "exit;" ::: __clobber_all);
}

NAKED("sk_skb/stream_verdict", sverdict_cfg_bad_fall_off_end)
{
	asm volatile("r0 = 1;" ::: __clobber_all);
}

NAKED("sockops", sockops_cfg_ok_dead_branch)
{
	asm volatile("r0 = 1;"
		     "if r0 == 1 goto l0_%=;"
		     "r0 = *(u64 *)(r0 + 0);"
		     "l0_%=:"
		     "exit;" ::: __clobber_all);
}

NAKED("sockops", sockops_cfg_bad_live_branch)
{
	asm volatile("r0 = *(u32 *)(r1 + 0);"
		     "if r0 == 1 goto l0_%=;"
		     "r0 = *(u64 *)(r0 + 0);"
		     "l0_%=:"
		     "exit;" ::: __clobber_all);
}
