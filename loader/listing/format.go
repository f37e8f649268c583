// Package listing prints BPF instructions the way llvm-objdump and the
// kernel verifier log do ("r1 = *(u32 *)(r2 + 4)", "if w1 > 5 goto +3"),
// with map references by name ("r1 = map[sock_map]") and programs as
// listings with their C source lines interleaved from BTF line info.
package listing

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/cilium/ebpf/asm"
)

// Format returns the text of one instruction. pc is its slot index, used
// to show jump targets; pass -1 to leave them out.
func Format(ins asm.Instruction, pc int) string {
	var b strings.Builder
	format(&b, &ins, pc)
	return b.String()
}

var sizeName = map[asm.Size]string{asm.Byte: "u8", asm.Half: "u16", asm.Word: "u32", asm.DWord: "u64"}

var aluSym = map[asm.ALUOp]string{
	asm.Add: "+=", asm.Sub: "-=", asm.Mul: "*=", asm.Div: "/=", asm.SDiv: "s/=",
	asm.Or: "|=", asm.And: "&=", asm.LSh: "<<=", asm.RSh: ">>=", asm.Mod: "%=",
	asm.SMod: "s%=", asm.Xor: "^=", asm.Mov: "=", asm.ArSh: "s>>=",
}

var jmpSym = map[asm.JumpOp]string{
	asm.JEq: "==", asm.JGT: ">", asm.JGE: ">=", asm.JSet: "&", asm.JNE: "!=",
	asm.JSGT: "s>", asm.JSGE: "s>=", asm.JLT: "<", asm.JLE: "<=", asm.JSLT: "s<", asm.JSLE: "s<=",
}

func reg(r asm.Register, wide bool) string {
	if wide || r == asm.R10 {
		return fmt.Sprintf("r%d", r)
	}
	return fmt.Sprintf("w%d", r)
}

func mem(base asm.Register, off int16) string {
	if off < 0 {
		return fmt.Sprintf("r%d - %d", base, -int32(off))
	}
	return fmt.Sprintf("r%d + %d", base, off)
}

func format(b *strings.Builder, ins *asm.Instruction, pc int) {
	op := ins.OpCode
	switch cls := op.Class(); {
	case op.IsDWordLoad():
		formatLoadImm64(b, ins)
	case cls == asm.LdXClass:
		sz := sizeName[op.Size()]
		if op.Mode() == asm.MemSXMode {
			sz = "s" + sz[1:]
		}
		fmt.Fprintf(b, "%s = *(%s *)(%s)", reg(ins.Dst, true), sz, mem(ins.Src, ins.Offset))
	case cls == asm.StClass:
		fmt.Fprintf(b, "*(%s *)(%s) = %d", sizeName[op.Size()], mem(ins.Dst, ins.Offset), ins.Constant)
	case cls == asm.StXClass && op.Mode() == asm.AtomicMode:
		formatAtomic(b, ins)
	case cls == asm.StXClass:
		fmt.Fprintf(b, "*(%s *)(%s) = %s", sizeName[op.Size()], mem(ins.Dst, ins.Offset), reg(ins.Src, true))
	case cls == asm.LdClass:
		// Legacy packet access (BPF_ABS / BPF_IND).
		if op.Mode() == asm.IndMode {
			fmt.Fprintf(b, "r0 = *(%s *)skb[%s + %d]", sizeName[op.Size()], reg(ins.Src, true), ins.Constant)
		} else {
			fmt.Fprintf(b, "r0 = *(%s *)skb[%d]", sizeName[op.Size()], ins.Constant)
		}
	case cls.IsALU():
		formatALU(b, ins, cls == asm.ALU64Class)
	case cls.IsJump():
		formatJump(b, ins, cls == asm.JumpClass, pc)
	default:
		fmt.Fprintf(b, "invalid opcode %#x", uint8(op))
	}
}

func formatLoadImm64(b *strings.Builder, ins *asm.Instruction) {
	ref := ins.Reference()
	switch ins.Src {
	case asm.PseudoMapFD:
		fmt.Fprintf(b, "%s = map[%s]", reg(ins.Dst, true), orUnknown(ref, ins.Constant))
	case asm.PseudoMapValue:
		fmt.Fprintf(b, "%s = &map[%s][%d]", reg(ins.Dst, true), orUnknown(ref, int64(uint32(ins.Constant))), uint64(ins.Constant)>>32)
	case asm.PseudoFunc:
		fmt.Fprintf(b, "%s = func[%s]", reg(ins.Dst, true), orUnknown(ref, ins.Constant))
	case asm.R0:
		fmt.Fprintf(b, "%s = %#x ll", reg(ins.Dst, true), uint64(ins.Constant))
	default:
		fmt.Fprintf(b, "%s = pseudo(%d)[%#x] ll", reg(ins.Dst, true), uint8(ins.Src), uint64(ins.Constant))
	}
}

func orUnknown(ref string, c int64) string {
	if ref != "" {
		return ref
	}
	return fmt.Sprintf("#%d", c)
}

func formatAtomic(b *strings.Builder, ins *asm.Instruction) {
	sz := sizeName[ins.OpCode.Size()]
	addr := mem(ins.Dst, ins.Offset)
	wide := ins.OpCode.Size() == asm.DWord
	src := reg(ins.Src, wide)
	switch a := ins.OpCode.AtomicOp(); a {
	case asm.AddAtomic, asm.AndAtomic, asm.OrAtomic, asm.XorAtomic:
		fmt.Fprintf(b, "lock *(%s *)(%s) %s %s", sz, addr, aluSym[asm.ALUOp(a>>8)], src)
	case asm.FetchAdd, asm.FetchAnd, asm.FetchOr, asm.FetchXor:
		name := strings.ToLower(asm.ALUOp((a &^ 0x100) >> 8).String())
		fmt.Fprintf(b, "%s = atomic_fetch_%s((%s *)(%s), %s)", src, name, sz, addr, src)
	case asm.Xchg:
		fmt.Fprintf(b, "%s = xchg_%s(%s, %s)", src, sz[1:], addr, src)
	case asm.CmpXchg:
		fmt.Fprintf(b, "%s = cmpxchg_%s(%s, %s, %s)", reg(asm.R0, wide), sz[1:], addr, reg(asm.R0, wide), src)
	default:
		fmt.Fprintf(b, "atomic %#x *(%s *)(%s), %s", uint32(a), sz, addr, src)
	}
}

func formatALU(b *strings.Builder, ins *asm.Instruction, wide bool) {
	op := ins.OpCode.ALUOp()
	dst := reg(ins.Dst, wide)
	switch op {
	case asm.Neg:
		fmt.Fprintf(b, "%s = -%s", dst, dst)
		return
	case asm.Swap:
		switch {
		case wide:
			fmt.Fprintf(b, "%s = bswap%d %s", dst, ins.Constant, dst)
		case ins.OpCode.Endianness() == asm.BE:
			fmt.Fprintf(b, "%s = be%d %s", reg(ins.Dst, true), ins.Constant, reg(ins.Dst, true))
		default:
			fmt.Fprintf(b, "%s = le%d %s", reg(ins.Dst, true), ins.Constant, reg(ins.Dst, true))
		}
		return
	case asm.MovSX8, asm.MovSX16, asm.MovSX32:
		bits := map[asm.ALUOp]int{asm.MovSX8: 8, asm.MovSX16: 16, asm.MovSX32: 32}[op]
		fmt.Fprintf(b, "%s = (s%d)%s", dst, bits, reg(ins.Src, wide))
		return
	}
	sym, ok := aluSym[op]
	if !ok {
		fmt.Fprintf(b, "invalid alu op %#x", uint16(op))
		return
	}
	if ins.OpCode.Source() == asm.RegSource {
		fmt.Fprintf(b, "%s %s %s", dst, sym, reg(ins.Src, wide))
	} else {
		fmt.Fprintf(b, "%s %s %d", dst, sym, ins.Constant)
	}
}

func target(b *strings.Builder, off int64, pc int) {
	fmt.Fprintf(b, "%+d", off)
	if pc >= 0 {
		fmt.Fprintf(b, " <%d>", int64(pc)+1+off)
	}
}

func formatJump(b *strings.Builder, ins *asm.Instruction, wide bool, pc int) {
	switch op := ins.OpCode.JumpOp(); op {
	case asm.Exit:
		b.WriteString("exit")
	case asm.Call:
		switch {
		case ins.IsFunctionCall():
			fmt.Fprintf(b, "call %s", orUnknown(ins.Reference(), ins.Constant))
		case ins.IsKfuncCall():
			fmt.Fprintf(b, "call kfunc %s", orUnknown(ins.Reference(), ins.Constant))
		default:
			fmt.Fprintf(b, "call %s#%d", HelperName(asm.BuiltinFunc(ins.Constant)), ins.Constant)
		}
	case asm.Ja:
		if wide {
			b.WriteString("goto ")
			target(b, int64(ins.Offset), pc)
		} else {
			b.WriteString("gotol ")
			target(b, ins.Constant, pc)
		}
	case asm.JCOND:
		b.WriteString("may_goto ")
		target(b, int64(ins.Offset), pc)
	default:
		sym, ok := jmpSym[op]
		if !ok {
			fmt.Fprintf(b, "invalid jump op %#x", uint8(op))
			return
		}
		if ins.OpCode.Source() == asm.RegSource {
			fmt.Fprintf(b, "if %s %s %s goto ", reg(ins.Dst, wide), sym, reg(ins.Src, wide))
		} else {
			fmt.Fprintf(b, "if %s %s %d goto ", reg(ins.Dst, wide), sym, ins.Constant)
		}
		target(b, int64(ins.Offset), pc)
	}
}

// HelperName is the kernel name of a helper without its bpf_ prefix
// ("msg_redirect_hash"), or "helper" when the id is unknown.
func HelperName(fn asm.BuiltinFunc) string {
	s := fn.String()
	if !strings.HasPrefix(s, "Fn") {
		return "helper"
	}
	s = s[2:]
	var out []rune
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			out = append(out, '_')
		}
		out = append(out, unicode.ToLower(r))
	}
	return string(out)
}
