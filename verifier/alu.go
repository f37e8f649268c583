package verifier

import (
	"github.com/skmsg/skmsg/internal/errno"
	"math"
)

var aluNames = map[uint8]string{
	aluADD: "+=", aluSUB: "-=", aluMUL: "*=", aluDIV: "/=", aluOR: "|=", aluAND: "&=",
	aluLSH: "<<=", aluRSH: ">>=", aluNEG: "neg", aluMOD: "%=", aluXOR: "^=", aluMOV: "=",
	aluARSH: "s>>=", aluEND: "endian",
}

// checkALU is check_alu_op.
func (v *verifier) checkALU(pc int, in *insn) error {
	op := in.op()
	alu64 := in.class() == clsALU64
	regs := v.regs()
	switch op {
	case aluEND, aluNEG:
		if op == aluNEG {
			if in.srcBit() != srcK || in.src != 0 || in.off != 0 || in.imm != 0 {
				return v.fail(errno.EINVAL, pc, "BPF_NEG uses reserved fields")
			}
		} else if in.src != 0 || in.off != 0 || (in.imm != 16 && in.imm != 32 && in.imm != 64) || (alu64 && in.srcBit() != srcK) {
			return v.fail(errno.EINVAL, pc, "BPF_END uses reserved fields")
		}
		if err := v.checkRegRead(pc, in.dst); err != nil {
			return err
		}
		if err := v.checkRegWrite(pc, in.dst); err != nil {
			return err
		}
		d := &regs[in.dst]
		if d.isPointer() {
			// Privileged: the pointer becomes an unknown scalar.
			d.markUnknownScalar()
			return nil
		}
		if op == aluNEG {
			var zero regState
			zero.markConst(0)
			d.scalarALU(aluNEG, &zero, !alu64)
		} else {
			d.markUnknownScalar()
			if in.imm < 64 {
				d.coerceToSize(int(in.imm) / 8)
			}
		}
		return nil
	case aluMOV:
		if in.srcBit() == srcX {
			if in.imm != 0 || (in.off != 0 && in.off != 8 && in.off != 16 && in.off != 32) || (!alu64 && in.off == 32) {
				return v.fail(errno.EINVAL, pc, "BPF_MOV uses reserved fields")
			}
			if err := v.checkRegRead(pc, in.src); err != nil {
				return err
			}
		} else if in.src != 0 || in.off != 0 {
			return v.fail(errno.EINVAL, pc, "BPF_MOV uses reserved fields")
		}
		if err := v.checkRegWrite(pc, in.dst); err != nil {
			return err
		}
		d := &regs[in.dst]
		if in.srcBit() == srcK {
			if alu64 {
				d.markConst(uint64(int64(in.imm)))
			} else {
				d.markConst(uint64(uint32(in.imm)))
			}
			return nil
		}
		s := &regs[in.src]
		if alu64 {
			if in.off == 0 {
				if s.typ == scalarValue && s.id == 0 && !s.varOff.isConst() {
					s.id = v.newID()
				}
				*d = *s
				return nil
			}
			if s.isPointer() {
				d.markUnknownScalar()
				return nil
			}
			nid := s.id
			*d = *s
			d.id = 0
			d.coerceToSizeSX(int(in.off) / 8)
			_ = nid
			return nil
		}
		if s.typ != scalarValue {
			d.markUnknownScalar()
			d.zext32To64()
			d.boundsSync()
			return nil
		}
		if in.off == 0 {
			fits := s.umax <= math.MaxUint32
			if fits && s.id == 0 && !s.varOff.isConst() {
				s.id = v.newID()
			}
			*d = *s
			if !fits {
				d.id = 0
			}
			d.zext32To64()
			d.boundsSync()
			return nil
		}
		*d = *s
		d.id = 0
		d.coerceSubregToSizeSX(int(in.off) / 8)
		return nil
	case aluADD, aluSUB, aluMUL, aluDIV, aluOR, aluAND, aluLSH, aluRSH, aluMOD, aluXOR, aluARSH:
	default:
		return v.fail(errno.EINVAL, pc, "invalid BPF_ALU opcode %x", op)
	}
	if in.srcBit() == srcX {
		if in.imm != 0 || (in.off != 0 && !((op == aluDIV || op == aluMOD) && in.off == 1)) {
			return v.fail(errno.EINVAL, pc, "BPF_ALU uses reserved fields")
		}
		if err := v.checkRegRead(pc, in.src); err != nil {
			return err
		}
	} else if in.src != 0 || (in.off != 0 && !((op == aluDIV || op == aluMOD) && in.off == 1)) {
		return v.fail(errno.EINVAL, pc, "BPF_ALU uses reserved fields")
	}
	if err := v.checkRegRead(pc, in.dst); err != nil {
		return err
	}
	if (op == aluMOD || op == aluDIV) && in.srcBit() == srcK && in.imm == 0 {
		return v.fail(errno.EINVAL, pc, "div by zero")
	}
	if (op == aluLSH || op == aluRSH || op == aluARSH) && in.srcBit() == srcK {
		size := int32(32)
		if alu64 {
			size = 64
		}
		if in.imm < 0 || in.imm >= size {
			return v.fail(errno.EINVAL, pc, "invalid shift %d", in.imm)
		}
	}
	if err := v.checkRegWrite(pc, in.dst); err != nil {
		return err
	}
	return v.adjustRegMinMax(pc, in)
}

// adjustRegMinMax is adjust_reg_min_max_vals.
func (v *verifier) adjustRegMinMax(pc int, in *insn) error {
	regs := v.regs()
	d := &regs[in.dst]
	op := in.op()
	alu64 := in.class() == clsALU64
	var src regState
	if in.srcBit() == srcX {
		src = regs[in.src]
		if src.typ != scalarValue {
			if d.typ != scalarValue {
				if op == aluSUB {
					d.markUnknownScalar()
					return nil
				}
				return v.fail(errno.EACCES, pc, "R%d pointer %s pointer prohibited", in.dst, aluNames[op])
			}
			// scalar op pointer
			off := *d
			return v.adjustPtr(pc, in, d, &src, &off, true)
		}
	} else {
		src.markConst(uint64(int64(in.imm)))
	}
	if d.typ != scalarValue {
		return v.adjustPtr(pc, in, d, d, &src, false)
	}
	d.scalarALU(op, &src, !alu64)
	d.id = 0
	return nil
}

// adjustPtr is adjust_ptr_min_max_vals: dst = ptr op off.
func (v *verifier) adjustPtr(pc int, in *insn, dst, ptr, off *regState, scalarDst bool) error {
	op := in.op()
	p := *ptr
	o := *off
	if in.class() != clsALU64 {
		if op == aluSUB {
			dst.markUnknownScalar()
			return nil
		}
		return v.fail(errno.EACCES, pc, "R%d 32-bit pointer arithmetic prohibited", in.dst)
	}
	if p.maybeNull {
		return v.fail(errno.EACCES, pc, "R%d pointer arithmetic on %s prohibited, null-check it first", in.dst, p.typeName())
	}
	if p.typ == ptrToBTFID && op != aluADD && op != aluSUB {
		// A value read through a typed kernel pointer that skmsg cannot
		// tell from a pointer: math makes it a number.
		dst.markUnknownScalar()
		return nil
	}
	known := o.varOff.isConst()
	switch p.typ {
	case ptrToCtx, ptrToMapValue, ptrToMapKey, ptrToStack, ptrToPacketMeta, ptrToPacket, ptrToBTFID, ptrToMem, ptrToFunc:
	case constPtrToMap:
		if known && o.smin == 0 && op == aluADD {
			break
		}
		return v.fail(errno.EACCES, pc, "R%d pointer arithmetic on %s prohibited", in.dst, p.typeName())
	default:
		return v.fail(errno.EACCES, pc, "R%d pointer arithmetic on %s prohibited", in.dst, p.typeName())
	}
	if (known && (o.smin != o.smax || o.umin != o.umax)) || o.smin > o.smax || o.umin > o.umax {
		dst.markUnknownScalar()
		return nil
	}
	if err := v.checkSaneOffset(pc, &o, p.typeName()); err != nil {
		return err
	}
	if err := v.checkSaneOffset(pc, &p, p.typeName()); err != nil {
		return err
	}
	r := p
	r.mark32Unbounded()
	switch op {
	case aluADD:
		if known && int64(p.off)+o.smin == int64(int32(int64(p.off)+o.smin)) {
			r.off = p.off + int32(o.smin)
			break
		}
		if known {
			return v.fail(errno.EINVAL, pc, "%s pointer offset %d is not allowed", p.typeName(), int64(p.off)+o.smin)
		}
		if s, ov := addOverflows64(p.smin, o.smin); ov {
			r.smin, r.smax = math.MinInt64, math.MaxInt64
		} else if s2, ov2 := addOverflows64(p.smax, o.smax); ov2 {
			r.smin, r.smax = math.MinInt64, math.MaxInt64
		} else {
			r.smin, r.smax = s, s2
		}
		if lo, hi := p.umin+o.umin, p.umax+o.umax; lo < p.umin || hi < p.umax {
			r.umin, r.umax = 0, math.MaxUint64
		} else {
			r.umin, r.umax = lo, hi
		}
		r.varOff = p.varOff.add(o.varOff)
		if p.isPkt() {
			r.id = v.newID()
			r.rng = 0
		}
	case aluSUB:
		if scalarDst {
			return v.fail(errno.EACCES, pc, "R%d tried to subtract pointer from scalar", in.dst)
		}
		if p.typ == ptrToStack {
			return v.fail(errno.EACCES, pc, "R%d subtraction from stack pointer prohibited", in.dst)
		}
		if known && int64(p.off)-o.smin == int64(int32(int64(p.off)-o.smin)) {
			r.off = p.off - int32(o.smin)
			break
		}
		if known {
			return v.fail(errno.EINVAL, pc, "%s pointer offset %d is not allowed", p.typeName(), int64(p.off)-o.smin)
		}
		s, ov := subOverflows64(p.smin, o.smax)
		s2, ov2 := subOverflows64(p.smax, o.smin)
		if ov || ov2 {
			r.smin, r.smax = math.MinInt64, math.MaxInt64
		} else {
			r.smin, r.smax = s, s2
		}
		if p.umin < o.umax {
			r.umin, r.umax = 0, math.MaxUint64
		} else {
			r.umin, r.umax = p.umin-o.umax, p.umax-o.umin
		}
		r.varOff = p.varOff.sub(o.varOff)
		if p.isPkt() {
			r.id = v.newID()
			if o.smin < 0 {
				r.rng = 0
			}
		}
	case aluAND, aluOR, aluXOR:
		return v.fail(errno.EACCES, pc, "R%d bitwise operator %s on pointer prohibited", in.dst, aluNames[op])
	default:
		return v.fail(errno.EACCES, pc, "R%d pointer arithmetic with %s operator prohibited", in.dst, aluNames[op])
	}
	if err := v.checkSaneOffset(pc, &r, p.typeName()); err != nil {
		return err
	}
	if r.isPkt() && r.rng < 0 {
		// Moving a pointer known to be at or past the end forgets that
		// (the kernel then compares it again: a re-check loop with
		// such a pointer repeats its state).
		r.rng = 0
	}
	r.boundsSync()
	*dst = r
	return nil
}

// checkSaneOffset is check_reg_sane_offset.
func (v *verifier) checkSaneOffset(pc int, r *regState, typ string) error {
	known := r.varOff.isConst()
	val := int64(r.varOff.value)
	if known && (val >= maxVarOff || val <= -maxVarOff) {
		return v.fail(errno.EINVAL, pc, "math between %s pointer and %d is not allowed", typ, val)
	}
	if r.off >= maxVarOff || r.off <= -maxVarOff {
		return v.fail(errno.EINVAL, pc, "%s pointer offset %d is not allowed", typ, r.off)
	}
	if r.smin == math.MinInt64 {
		return v.fail(errno.EINVAL, pc, "math between %s pointer and register with unbounded min value is not allowed", typ)
	}
	if r.smin >= maxVarOff || r.smin <= -maxVarOff {
		return v.fail(errno.EINVAL, pc, "value %d makes %s pointer be out of bounds", r.smin, typ)
	}
	return nil
}
