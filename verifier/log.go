package verifier

import (
	"fmt"
	"strings"
)

var sizeNames = map[uint8]string{sizeB: "u8", sizeH: "u16", sizeW: "u32", sizeDW: "u64"}
var ssizeNames = map[uint8]string{sizeB: "s8", sizeH: "s16", sizeW: "s32", sizeDW: "s64"}

var jmpNames = map[uint8]string{
	jmpJEQ: "==", jmpJGT: ">", jmpJGE: ">=", jmpJSET: "&", jmpJNE: "!=", jmpJSGT: "s>", jmpJSGE: "s>=",
	jmpJLT: "<", jmpJLE: "<=", jmpJSLT: "s<", jmpJSLE: "s<=",
}

// disasm prints an instruction the way the kernel's print_bpf_insn does.
func (v *verifier) disasm(pc int) string {
	in := &v.p.insns[pc]
	code := fmt.Sprintf("(%02x) ", in.code)
	r := func(n uint8, w bool) string {
		if w {
			return fmt.Sprintf("w%d", n)
		}
		return fmt.Sprintf("r%d", n)
	}
	switch in.class() {
	case clsALU, clsALU64:
		w := in.class() == clsALU
		op := in.op()
		switch op {
		case aluNEG:
			return code + fmt.Sprintf("%s = -%s", r(in.dst, w), r(in.dst, w))
		case aluEND:
			kind := "le"
			if in.srcBit() == srcX {
				kind = "be"
			}
			if !w {
				kind = "bswap"
			}
			return code + fmt.Sprintf("r%d = %s%d r%d", in.dst, kind, in.imm, in.dst)
		}
		name := aluNames[op]
		if in.srcBit() == srcX {
			return code + fmt.Sprintf("%s %s %s", r(in.dst, w), name, r(in.src, w))
		}
		return code + fmt.Sprintf("%s %s %d", r(in.dst, w), name, in.imm)
	case clsLDX:
		sz := sizeNames[in.sizeBits()]
		if in.mode() == modeMEMSX {
			sz = ssizeNames[in.sizeBits()]
		}
		return code + fmt.Sprintf("r%d = *(%s *)(r%d %+d)", in.dst, sz, in.src, in.off)
	case clsSTX:
		if in.mode() == modeATOMIC {
			return code + fmt.Sprintf("atomic%s (%s *)(r%d %+d) op %#x r%d", "", sizeNames[in.sizeBits()], in.dst, in.off, in.imm, in.src)
		}
		return code + fmt.Sprintf("*(%s *)(r%d %+d) = r%d", sizeNames[in.sizeBits()], in.dst, in.off, in.src)
	case clsST:
		return code + fmt.Sprintf("*(%s *)(r%d %+d) = %d", sizeNames[in.sizeBits()], in.dst, in.off, in.imm)
	case clsLD:
		if in.isLdImm64() {
			switch in.src {
			case pseudoMapFD, pseudoMapIdx:
				return code + fmt.Sprintf("r%d = map[id:%s]", in.dst, mapName(in.m))
			case pseudoMapValue, pseudoMapIdxVal:
				return code + fmt.Sprintf("r%d = map[id:%s][0]+%d", in.dst, mapName(in.m), uint32(v.p.insns[pc+1].imm))
			}
			return code + fmt.Sprintf("r%d = %#x", in.dst, in.imm64)
		}
		return code + "ld_abs"
	case clsJMP, clsJMP32:
		w := in.class() == clsJMP32
		switch in.op() {
		case jmpJA:
			off := int(in.off)
			if w {
				off = int(in.imm)
				return code + fmt.Sprintf("gotol pc%+d", off)
			}
			return code + fmt.Sprintf("goto pc%+d", off)
		case jmpEXIT:
			return code + "exit"
		case jmpCALL:
			if in.src == pseudoCall {
				return code + fmt.Sprintf("call pc%+d", in.imm)
			}
			return code + fmt.Sprintf("call %s#%d", helperName(in.imm), in.imm)
		}
		if in.srcBit() == srcX {
			return code + fmt.Sprintf("if %s %s %s goto pc%+d", r(in.dst, w), jmpNames[in.op()], r(in.src, w), in.off)
		}
		return code + fmt.Sprintf("if %s %s %#x goto pc%+d", r(in.dst, w), jmpNames[in.op()], uint32(in.imm), in.off)
	}
	return code
}

func mapName(m *Map) string {
	if m == nil {
		return "?"
	}
	return m.Name
}

// fmtReg prints a register state like print_verifier_state.
func fmtReg(r *regState) string {
	if r.typ == scalarValue {
		if r.varOff.isConst() {
			return fmt.Sprintf("%d", int64(r.varOff.value))
		}
		var parts []string
		if r.smin != minS64 {
			parts = append(parts, fmt.Sprintf("smin=%d", r.smin))
		}
		if r.smax != maxS64 {
			parts = append(parts, fmt.Sprintf("smax=%d", r.smax))
		}
		if r.umin != 0 {
			parts = append(parts, fmt.Sprintf("umin=%d", r.umin))
		}
		if r.umax != ^uint64(0) {
			parts = append(parts, fmt.Sprintf("umax=%d", r.umax))
		}
		if !r.varOff.isUnknown() {
			parts = append(parts, "var_off="+r.varOff.String())
		}
		if r.id != 0 {
			parts = append([]string{fmt.Sprintf("id=%d", r.id)}, parts...)
		}
		return "scalar(" + strings.Join(parts, ",") + ")"
	}
	if r.typ == ptrToStack {
		return fmt.Sprintf("fp%d", r.off)
	}
	var parts []string
	if r.id != 0 {
		parts = append(parts, fmt.Sprintf("id=%d", r.id))
	}
	if r.refObjID != 0 {
		parts = append(parts, fmt.Sprintf("ref_obj_id=%d", r.refObjID))
	}
	if r.off != 0 {
		parts = append(parts, fmt.Sprintf("off=%d", r.off))
	}
	if r.isPkt() {
		parts = append(parts, fmt.Sprintf("r=%d", r.rng))
	}
	if r.m != nil && (r.typ == ptrToMapValue || r.typ == constPtrToMap || r.typ == ptrToMapKey) {
		parts = append(parts, fmt.Sprintf("map=%s,ks=%d,vs=%d", r.m.Name, r.m.KeySize, r.m.ValueSize))
	}
	if r.typ == ptrToMem {
		parts = append(parts, fmt.Sprintf("sz=%d", r.memSize))
	}
	return r.typeName() + "(" + strings.Join(parts, ",") + ")"
}

const (
	minS64 = -1 << 63
	maxS64 = 1<<63 - 1
)

func (v *verifier) fmtState(st *vstate) string {
	var b strings.Builder
	f := st.cur()
	for i := range f.regs {
		if f.regs[i].typ == notInit {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "R%d=%s", i, fmtReg(&f.regs[i]))
	}
	for i := range f.stack {
		s := &f.stack[i]
		if s.isSpilled() {
			fmt.Fprintf(&b, " fp%d=%s", -8*(i+1), fmtReg(&s.spilled))
			continue
		}
		var t []byte
		any := false
		for k := 7; k >= 0; k-- {
			switch s.types[k] {
			case stackInvalid:
				t = append(t, '?')
			case stackMisc:
				t = append(t, 'm')
				any = true
			case stackZero:
				t = append(t, '0')
				any = true
			case stackSpill:
				t = append(t, 'r')
				any = true
			}
		}
		if any {
			fmt.Fprintf(&b, " fp%d=%s", -8*(i+1), t)
		}
	}
	return b.String()
}
