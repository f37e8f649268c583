package vm

import (
	"fmt"
	"math"

	"github.com/cilium/ebpf/asm"
)

// raw is one instruction in its wire form (RFC 9669 §3), as cilium's asm
// package would marshal it. LD_IMM64 carries its full immediate in imm64.
type raw struct {
	opcode uint8
	dst    uint8
	src    uint8
	off    int16
	imm    int32
	imm64  uint64
	wide   bool // LD_IMM64: two slots
}

// toRaw undoes cilium's extended opcode encoding (sdiv, smod, movsx and
// atomics keep part of their opcode outside the 8-bit field).
func toRaw(ins *asm.Instruction) (raw, error) {
	op := ins.OpCode
	r := raw{dst: uint8(ins.Dst), src: uint8(ins.Src), off: ins.Offset}
	if op == asm.InvalidOpCode {
		return r, fmt.Errorf("invalid opcode")
	}
	if op.IsDWordLoad() {
		r.opcode = uint8(op)
		r.imm64 = uint64(ins.Constant)
		r.imm = int32(uint32(ins.Constant))
		r.wide = true
		return r, nil
	}
	switch cls := op.Class(); {
	case cls.IsALU():
		if op&^0x3fff != 0 {
			return r, fmt.Errorf("invalid opcode %#x", uint32(op))
		}
		alu := op.ALUOp()
		ext := uint16(alu) >> 8
		base := uint8(alu) & 0xf0
		if ext != 0 {
			if ins.Offset != 0 {
				return r, fmt.Errorf("extended ALU opcode %v with offset %d", op, ins.Offset)
			}
			switch {
			case (base == uint8(asm.Div) || base == uint8(asm.Mod)) && ext == 1:
				r.off = 1
			case base == uint8(asm.Mov) && ext >= 1 && ext <= 3:
				r.off = 8 << (ext - 1)
			default:
				return r, fmt.Errorf("invalid ALU opcode %#x", uint32(op))
			}
		}
		r.opcode = uint8(op)&0x0f | base
	case cls == asm.StXClass && op.Mode() == asm.AtomicMode:
		if op&^0x1ffff != 0 {
			return r, fmt.Errorf("invalid opcode %#x", uint32(op))
		}
		r.opcode = uint8(op)
		r.imm = int32(uint32(op) >> 8)
		if ins.Constant != 0 && int64(r.imm) != ins.Constant {
			return r, fmt.Errorf("atomic opcode %v with constant %d", op, ins.Constant)
		}
		return r, nil
	default:
		if op > 0xff {
			return r, fmt.Errorf("invalid opcode %#x", uint32(op))
		}
		r.opcode = uint8(op)
	}
	if ins.Constant < math.MinInt32 || ins.Constant > math.MaxUint32 {
		return r, fmt.Errorf("constant %d does not fit 32 bits", ins.Constant)
	}
	r.imm = int32(uint32(ins.Constant))
	return r, nil
}

// Wire opcode fields.
const (
	clsLD    = 0x00
	clsLDX   = 0x01
	clsST    = 0x02
	clsSTX   = 0x03
	clsALU   = 0x04
	clsJMP   = 0x05
	clsJMP32 = 0x06
	clsALU64 = 0x07

	srcX = 0x08

	modeMEM    = 0x60
	modeMEMSX  = 0x80
	modeATOMIC = 0xc0

	sizeW  = 0x00
	sizeH  = 0x08
	sizeB  = 0x10
	sizeDW = 0x18

	atomicFetch   = 0x01
	atomicXchg    = 0xe0 | atomicFetch
	atomicCmpXchg = 0xf0 | atomicFetch
	atomicLoadAcq = 0x100
	atomicStRel   = 0x110
)

// op is one pre-decoded instruction slot. The fields' meaning depends on
// code:
//   - ALU: imm is the immediate widened as the operation needs it.
//   - LDX/STX/atomics: imm is the sign-extended memory offset.
//   - ST: imm is the offset, aux the value.
//   - jumps: aux is the absolute target slot, imm the comparand.
//   - helper calls: aux indexes Program's helper table.
//   - local calls: aux is the absolute target slot.
type op struct {
	code uint8
	dst  uint8
	src  uint8
	size uint8 // memory access size in bytes, for slow paths and tracing
	aux  int32
	imm  uint64
}

// Dense internal opcodes: the hot loop's switch compiles to a jump table.
const (
	opInvalid uint8 = iota
	// ALU64, immediate and register forms.
	opAdd64Imm
	opAdd64Reg
	opSub64Imm
	opSub64Reg
	opMul64Imm
	opMul64Reg
	opDiv64Imm
	opDiv64Reg
	opSDiv64Imm
	opSDiv64Reg
	opOr64Imm
	opOr64Reg
	opAnd64Imm
	opAnd64Reg
	opLsh64Imm
	opLsh64Reg
	opRsh64Imm
	opRsh64Reg
	opNeg64
	opMod64Imm
	opMod64Reg
	opSMod64Imm
	opSMod64Reg
	opXor64Imm
	opXor64Reg
	opMov64Imm
	opMov64Reg
	opMovSX8to64
	opMovSX16to64
	opMovSX32to64
	opArsh64Imm
	opArsh64Reg
	// ALU32.
	opAdd32Imm
	opAdd32Reg
	opSub32Imm
	opSub32Reg
	opMul32Imm
	opMul32Reg
	opDiv32Imm
	opDiv32Reg
	opSDiv32Imm
	opSDiv32Reg
	opOr32Imm
	opOr32Reg
	opAnd32Imm
	opAnd32Reg
	opLsh32Imm
	opLsh32Reg
	opRsh32Imm
	opRsh32Reg
	opNeg32
	opMod32Imm
	opMod32Reg
	opSMod32Imm
	opSMod32Reg
	opXor32Imm
	opXor32Reg
	opMov32Imm
	opMov32Reg
	opMovSX8to32
	opMovSX16to32
	opArsh32Imm
	opArsh32Reg
	// Byte order.
	opLe16
	opLe32
	opLe64
	opBe16
	opBe32
	opBe64
	// LD_IMM64 (the second slot holds opNop, never executed).
	opLdImm64
	opNop
	// Loads and stores.
	opLdxB
	opLdxH
	opLdxW
	opLdxDW
	opLdxSB
	opLdxSH
	opLdxSW
	opStB
	opStH
	opStW
	opStDW
	opStxB
	opStxH
	opStxW
	opStxDW
	opAtomic // slow path; aux holds the atomic operation (the wire imm)
	// Jumps.
	opJa
	opJeqImm
	opJeqReg
	opJgtImm
	opJgtReg
	opJgeImm
	opJgeReg
	opJsetImm
	opJsetReg
	opJneImm
	opJneReg
	opJsgtImm
	opJsgtReg
	opJsgeImm
	opJsgeReg
	opJltImm
	opJltReg
	opJleImm
	opJleReg
	opJsltImm
	opJsltReg
	opJsleImm
	opJsleReg
	opJeq32Imm
	opJeq32Reg
	opJgt32Imm
	opJgt32Reg
	opJge32Imm
	opJge32Reg
	opJset32Imm
	opJset32Reg
	opJne32Imm
	opJne32Reg
	opJsgt32Imm
	opJsgt32Reg
	opJsge32Imm
	opJsge32Reg
	opJlt32Imm
	opJlt32Reg
	opJle32Imm
	opJle32Reg
	opJslt32Imm
	opJslt32Reg
	opJsle32Imm
	opJsle32Reg
	// Calls.
	opCallHelper
	opCallLocal
	opCallReg
	opExit
	// The slot after a program's last: where the frame CallFunc pushes
	// returns to, so that exit needs no test of its own for it.
	opCallbackRet
)

// aluOps maps the wire ALU operation (opcode>>4) to the 64-bit imm form;
// the register form is +1. 32-bit forms are at the same distance from
// opAdd32Imm.
var aluOps = [16]uint8{
	0x0: opAdd64Imm, 0x1: opSub64Imm, 0x2: opMul64Imm, 0x3: opDiv64Imm,
	0x4: opOr64Imm, 0x5: opAnd64Imm, 0x6: opLsh64Imm, 0x7: opRsh64Imm,
	0x8: opNeg64, 0x9: opMod64Imm, 0xa: opXor64Imm, 0xb: opMov64Imm,
	0xc: opArsh64Imm,
}

// jmpOps maps the wire jump operation (opcode>>4) to the 64-bit imm form.
var jmpOps = [16]uint8{
	0x1: opJeqImm, 0x2: opJgtImm, 0x3: opJgeImm, 0x4: opJsetImm,
	0x5: opJneImm, 0x6: opJsgtImm, 0x7: opJsgeImm, 0xa: opJltImm,
	0xb: opJleImm, 0xc: opJsltImm, 0xd: opJsleImm,
}

const jmp32Delta = opJeq32Imm - opJeqImm

var sizeBytes = [4]uint8{sizeW >> 3: 4, sizeH >> 3: 2, sizeB >> 3: 1, sizeDW >> 3: 8}

func asmFunc(id uint64) asm.BuiltinFunc { return asm.BuiltinFunc(id) }
