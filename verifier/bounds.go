package verifier

import "math"

// Scalar bounds as the kernel tracks them (struct bpf_reg_state): a tnum
// and signed/unsigned 64- and 32-bit ranges, kept consistent by
// boundsSync (the kernel's reg_bounds_sync).

func (r *regState) markKnown(v uint64) {
	r.varOff = tnumConst(v)
	r.smin, r.smax = int64(v), int64(v)
	r.umin, r.umax = v, v
	r.s32min, r.s32max = int32(v), int32(v)
	r.u32min, r.u32max = uint32(v), uint32(v)
}

func (r *regState) markUnbounded() {
	r.mark64Unbounded()
	r.mark32Unbounded()
}

func (r *regState) mark64Unbounded() {
	r.smin, r.smax = math.MinInt64, math.MaxInt64
	r.umin, r.umax = 0, math.MaxUint64
}

func (r *regState) mark32Unbounded() {
	r.s32min, r.s32max = math.MinInt32, math.MaxInt32
	r.u32min, r.u32max = 0, math.MaxUint32
}

func (r *regState) update32Bounds() {
	v := r.varOff.subreg()
	r.s32min = max(r.s32min, int32(uint32(v.value|(v.mask&0x80000000))))
	r.s32max = min(r.s32max, int32(uint32(v.value|(v.mask&0x7fffffff))))
	r.u32min = max(r.u32min, uint32(v.value))
	r.u32max = min(r.u32max, uint32(v.value|v.mask))
}

func (r *regState) update64Bounds() {
	v := r.varOff
	r.smin = max(r.smin, int64(v.value|(v.mask&(1<<63))))
	r.smax = min(r.smax, int64(v.value|(v.mask&math.MaxInt64)))
	r.umin = max(r.umin, v.value)
	r.umax = min(r.umax, v.value|v.mask)
}

func (r *regState) updateBounds() {
	r.update32Bounds()
	r.update64Bounds()
}

func (r *regState) deduce32() {
	if r.umin>>32 == r.umax>>32 {
		r.u32min = max(r.u32min, uint32(r.umin))
		r.u32max = min(r.u32max, uint32(r.umax))
		if int32(r.umin) <= int32(r.umax) {
			r.s32min = max(r.s32min, int32(r.umin))
			r.s32max = min(r.s32max, int32(r.umax))
		}
	}
	if r.smin>>32 == r.smax>>32 {
		r.u32min = max(r.u32min, uint32(r.smin))
		r.u32max = min(r.u32max, uint32(r.smax))
		if int32(r.smin) <= int32(r.smax) {
			r.s32min = max(r.s32min, int32(r.smin))
			r.s32max = min(r.s32max, int32(r.smax))
		}
	}
	if uint32(r.umin>>32)+1 == uint32(r.umax>>32) && int32(r.umin) < 0 && int32(r.umax) >= 0 {
		r.s32min = max(r.s32min, int32(r.umin))
		r.s32max = min(r.s32max, int32(r.umax))
	}
	if uint32(r.smin>>32)+1 == uint32(r.smax>>32) && int32(r.smin) < 0 && int32(r.smax) >= 0 {
		r.s32min = max(r.s32min, int32(r.smin))
		r.s32max = min(r.s32max, int32(r.smax))
	}
	if int32(r.u32min) <= int32(r.u32max) {
		r.s32min = max(r.s32min, int32(r.u32min))
		r.s32max = min(r.s32max, int32(r.u32max))
	}
	if uint32(r.s32min) <= uint32(r.s32max) {
		r.u32min = max(r.u32min, uint32(r.s32min))
		r.u32max = min(r.u32max, uint32(r.s32max))
	}
}

func (r *regState) deduce64() {
	if int64(r.umin) <= int64(r.umax) {
		r.smin = max(r.smin, int64(r.umin))
		r.smax = min(r.smax, int64(r.umax))
	}
	if uint64(r.smin) <= uint64(r.smax) {
		r.umin = max(r.umin, uint64(r.smin))
		r.umax = min(r.umax, uint64(r.smax))
	} else {
		if r.umax < uint64(r.smin) {
			r.smin = int64(r.umin)
			r.umax = min(r.umax, uint64(r.smax))
		} else if uint64(r.smax) < r.umin {
			r.smax = int64(r.umax)
			r.umin = max(r.umin, uint64(r.smin))
		}
	}
}

func (r *regState) deduceMixed() {
	nu := (r.umin &^ 0xffffffff) | uint64(r.u32min)
	nx := (r.umax &^ 0xffffffff) | uint64(r.u32max)
	r.umin = max(r.umin, nu)
	r.umax = min(r.umax, nx)
	ns := int64((uint64(r.smin) &^ 0xffffffff) | uint64(r.u32min))
	nsx := int64((uint64(r.smax) &^ 0xffffffff) | uint64(r.u32max))
	r.smin = max(r.smin, ns)
	r.smax = min(r.smax, nsx)
	if r.s32min >= 0 && r.smin >= math.MinInt32 && r.smax <= math.MaxInt32 {
		r.smin, r.smax = int64(r.s32min), int64(r.s32max)
		r.umin, r.umax = uint64(r.s32min), uint64(r.s32max)
		r.varOff = r.varOff.intersect(tnumRange(uint64(r.smin), uint64(r.smax)))
	}
}

func (r *regState) deduceBounds() {
	r.deduce32()
	r.deduce64()
	r.deduceMixed()
}

func (r *regState) boundOffset() {
	v64 := r.varOff.intersect(tnumRange(r.umin, r.umax))
	v32 := v64.subreg().intersect(tnumRange(uint64(r.u32min), uint64(r.u32max)))
	r.varOff = v64.clearSubreg().or(v32)
}

// boundsSync is reg_bounds_sync.
func (r *regState) boundsSync() {
	r.updateBounds()
	r.deduceBounds()
	r.deduceBounds()
	r.boundOffset()
	r.updateBounds()
}

// boundsSane reports whether the ranges are non-empty (an impossible
// state means a dead branch).
func (r *regState) boundsSane() bool {
	return r.umin <= r.umax && r.smin <= r.smax && r.u32min <= r.u32max && r.s32min <= r.s32max
}

// assign32Into64 is __reg_assign_32_into_64.
func (r *regState) assign32Into64() {
	r.umin, r.umax = uint64(r.u32min), uint64(r.u32max)
	if r.s32min >= 0 && r.s32max >= 0 {
		r.smin, r.smax = int64(r.s32min), int64(r.s32max)
	} else {
		r.smin, r.smax = 0, math.MaxUint32
	}
}

// zext32To64 models a 32-bit ALU result being zero-extended.
func (r *regState) zext32To64() {
	r.varOff = r.varOff.subreg()
	r.assign32Into64()
}

// coerceToSize keeps the low size bytes (loads narrower than 8 bytes).
func (r *regState) coerceToSize(size int) {
	r.varOff = r.varOff.cast(size)
	mask := uint64(1)<<(uint(size)*8) - 1
	if r.umin&^mask == r.umax&^mask {
		r.umin &= mask
		r.umax &= mask
	} else {
		r.umin, r.umax = 0, mask
	}
	r.smin, r.smax = int64(r.umin), int64(r.umax)
	if size >= 4 {
		r.u32min, r.u32max = uint32(r.umin), uint32(r.umax)
		r.s32min, r.s32max = int32(r.u32min), int32(r.u32max)
		if r.s32min > r.s32max {
			r.s32min, r.s32max = math.MinInt32, math.MaxInt32
		}
	} else {
		r.u32min, r.u32max = uint32(r.umin), uint32(r.umax)
		r.s32min, r.s32max = int32(r.umin), int32(r.umax)
	}
	r.boundsSync()
}

// coerceToSizeSX sign-extends the low size bytes (BPF_MEMSX, movsx).
func (r *regState) coerceToSizeSX(size int) {
	if r.varOff.isConst() {
		v := r.varOff.value
		var s int64
		switch size {
		case 1:
			s = int64(int8(v))
		case 2:
			s = int64(int16(v))
		default:
			s = int64(int32(v))
		}
		r.markKnown(uint64(s))
		return
	}
	var lo, hi int64
	switch size {
	case 1:
		lo, hi = math.MinInt8, math.MaxInt8
	case 2:
		lo, hi = math.MinInt16, math.MaxInt16
	default:
		lo, hi = math.MinInt32, math.MaxInt32
	}
	r.varOff = tnumUnknown
	r.markUnbounded()
	r.smin, r.smax = lo, hi
	r.s32min, r.s32max = int32(lo), int32(hi)
	r.boundsSync()
}

// coerceSubregToSizeSX is the 32-bit movsx (w = (s8)w).
func (r *regState) coerceSubregToSizeSX(size int) {
	r.coerceToSizeSX(size)
	r.zext32To64()
	r.boundsSync()
}

func addOverflows64(a, b int64) (int64, bool) {
	s := a + b
	return s, (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0)
}

func subOverflows64(a, b int64) (int64, bool) {
	s := a - b
	return s, (a >= 0 && b < 0 && s < 0) || (a < 0 && b > 0 && s >= 0)
}

func addOverflows32(a, b int32) (int32, bool) {
	s := a + b
	return s, (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0)
}

func subOverflows32(a, b int32) (int32, bool) {
	s := a - b
	return s, (a >= 0 && b < 0 && s < 0) || (a < 0 && b > 0 && s >= 0)
}

func (d *regState) add32(s *regState) {
	lo, o1 := addOverflows32(d.s32min, s.s32min)
	hi, o2 := addOverflows32(d.s32max, s.s32max)
	if o1 || o2 {
		d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	} else {
		d.s32min, d.s32max = lo, hi
	}
	ulo, uhi := d.u32min+s.u32min, d.u32max+s.u32max
	if ulo < d.u32min || uhi < d.u32max {
		d.u32min, d.u32max = 0, math.MaxUint32
	} else {
		d.u32min, d.u32max = ulo, uhi
	}
}

func (d *regState) add64(s *regState) {
	lo, o1 := addOverflows64(d.smin, s.smin)
	hi, o2 := addOverflows64(d.smax, s.smax)
	if o1 || o2 {
		d.smin, d.smax = math.MinInt64, math.MaxInt64
	} else {
		d.smin, d.smax = lo, hi
	}
	ulo, uhi := d.umin+s.umin, d.umax+s.umax
	if ulo < d.umin || uhi < d.umax {
		d.umin, d.umax = 0, math.MaxUint64
	} else {
		d.umin, d.umax = ulo, uhi
	}
}

func (d *regState) sub32(s *regState) {
	lo, o1 := subOverflows32(d.s32min, s.s32max)
	hi, o2 := subOverflows32(d.s32max, s.s32min)
	if o1 || o2 {
		d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	} else {
		d.s32min, d.s32max = lo, hi
	}
	if d.u32min < s.u32max {
		d.u32min, d.u32max = 0, math.MaxUint32
	} else {
		d.u32min, d.u32max = d.u32min-s.u32max, d.u32max-s.u32min
	}
}

func (d *regState) sub64(s *regState) {
	lo, o1 := subOverflows64(d.smin, s.smax)
	hi, o2 := subOverflows64(d.smax, s.smin)
	if o1 || o2 {
		d.smin, d.smax = math.MinInt64, math.MaxInt64
	} else {
		d.smin, d.smax = lo, hi
	}
	if d.umin < s.umax {
		d.umin, d.umax = 0, math.MaxUint64
	} else {
		d.umin, d.umax = d.umin-s.umax, d.umax-s.umin
	}
}

func mulU64(a, b uint64) (uint64, bool) {
	if a == 0 || b == 0 {
		return 0, false
	}
	p := a * b
	return p, p/b != a
}

func mulS64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, false
	}
	p := a * b
	if (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return p, true
	}
	return p, p/b != a
}

func (d *regState) mul32(s *regState) {
	hi, o1 := mulU64(uint64(d.u32max), uint64(s.u32max))
	lo, o2 := mulU64(uint64(d.u32min), uint64(s.u32min))
	if o1 || o2 || hi > math.MaxUint32 || lo > math.MaxUint32 {
		d.u32min, d.u32max = 0, math.MaxUint32
	} else {
		d.u32min, d.u32max = uint32(lo), uint32(hi)
	}
	p := []int64{int64(d.s32min) * int64(s.s32min), int64(d.s32min) * int64(s.s32max), int64(d.s32max) * int64(s.s32min), int64(d.s32max) * int64(s.s32max)}
	mn, mx := p[0], p[0]
	for _, v := range p {
		mn, mx = min(mn, v), max(mx, v)
	}
	if mn < math.MinInt32 || mx > math.MaxInt32 {
		d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	} else {
		d.s32min, d.s32max = int32(mn), int32(mx)
	}
}

func (d *regState) mul64(s *regState) {
	hi, o1 := mulU64(d.umax, s.umax)
	lo, o2 := mulU64(d.umin, s.umin)
	if o1 || o2 {
		d.umin, d.umax = 0, math.MaxUint64
	} else {
		d.umin, d.umax = lo, hi
	}
	a, oa := mulS64(d.smin, s.smin)
	b, ob := mulS64(d.smin, s.smax)
	c, oc := mulS64(d.smax, s.smin)
	e, oe := mulS64(d.smax, s.smax)
	if oa || ob || oc || oe {
		d.smin, d.smax = math.MinInt64, math.MaxInt64
	} else {
		d.smin, d.smax = min(a, b, c, e), max(a, b, c, e)
	}
}

func (d *regState) and32(s *regState) {
	v := d.varOff.subreg()
	if s.varOff.subreg().isConst() && v.isConst() {
		d.mark32Known(uint32(v.value))
		return
	}
	d.u32min = uint32(v.value)
	d.u32max = min(d.u32max, s.u32max)
	d.sign32FromU32()
}

func (d *regState) and64(s *regState) {
	if s.varOff.isConst() && d.varOff.isConst() {
		d.markKnown(d.varOff.value)
		return
	}
	d.umin = d.varOff.value
	d.umax = min(d.umax, s.umax)
	d.sign64FromU64()
	d.updateBounds()
}

func (d *regState) or32(s *regState) {
	v := d.varOff.subreg()
	if s.varOff.subreg().isConst() && v.isConst() {
		d.mark32Known(uint32(v.value))
		return
	}
	d.u32min = max(d.u32min, s.u32min)
	d.u32max = uint32(v.value | v.mask)
	d.sign32FromU32()
}

func (d *regState) or64(s *regState) {
	if s.varOff.isConst() && d.varOff.isConst() {
		d.markKnown(d.varOff.value)
		return
	}
	d.umin = max(d.umin, s.umin)
	d.umax = d.varOff.value | d.varOff.mask
	d.sign64FromU64()
	d.updateBounds()
}

func (d *regState) xor32(s *regState) {
	v := d.varOff.subreg()
	if s.varOff.subreg().isConst() && v.isConst() {
		d.mark32Known(uint32(v.value))
		return
	}
	d.u32min = uint32(v.value)
	d.u32max = uint32(v.value | v.mask)
	d.sign32FromU32()
}

func (d *regState) xor64(s *regState) {
	if s.varOff.isConst() && d.varOff.isConst() {
		d.markKnown(d.varOff.value)
		return
	}
	d.umin = d.varOff.value
	d.umax = d.varOff.value | d.varOff.mask
	d.sign64FromU64()
	d.updateBounds()
}

func (d *regState) sign32FromU32() {
	if int32(d.u32min) <= int32(d.u32max) {
		d.s32min, d.s32max = int32(d.u32min), int32(d.u32max)
	} else {
		d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	}
}

func (d *regState) sign64FromU64() {
	if int64(d.umin) <= int64(d.umax) {
		d.smin, d.smax = int64(d.umin), int64(d.umax)
	} else {
		d.smin, d.smax = math.MinInt64, math.MaxInt64
	}
}

func (d *regState) mark32Known(v uint32) {
	d.varOff = d.varOff.constSubreg(v)
	d.s32min, d.s32max = int32(v), int32(v)
	d.u32min, d.u32max = v, v
}

func (d *regState) lsh32(umin, umax uint64) {
	d.s32min, d.s32max = math.MinInt32, math.MaxInt32
	if umax > 31 || uint64(d.u32max) > uint64(1)<<(31-umax) {
		d.u32min, d.u32max = 0, math.MaxUint32
	} else {
		d.u32min <<= umin
		d.u32max <<= umax
	}
}

func (d *regState) lsh64(umin, umax uint64) {
	if umin == 32 && umax == 32 && d.s32max >= 0 {
		d.smax = int64(d.s32max) << 32
	} else {
		d.smax = math.MaxInt64
	}
	if umin == 32 && umax == 32 && d.s32min >= 0 {
		d.smin = int64(d.s32min) << 32
	} else {
		d.smin = math.MinInt64
	}
	if d.umax > uint64(1)<<(63-umax) {
		d.umin, d.umax = 0, math.MaxUint64
	} else {
		d.umin <<= umin
		d.umax <<= umax
	}
}

// scalarALU applies opcode to scalar d with operand s
// (adjust_scalar_min_max_vals). It reports false when the result is
// simply unknown.
func (d *regState) scalarALU(op uint8, s *regState, alu32 bool) {
	bitness := uint64(64)
	srcConst := s.varOff.isConst() && s.smin == s.smax && s.umin == s.umax
	if alu32 {
		bitness = 32
		srcConst = s.varOff.subreg().isConst() && s.s32min == s.s32max && s.u32min == s.u32max
	}
	switch op {
	case aluADD, aluSUB, aluNEG, aluAND, aluXOR, aluOR, aluMUL:
	case aluLSH, aluRSH, aluARSH:
		umax := s.umax
		if alu32 {
			umax = uint64(s.u32max)
		}
		if !srcConst || umax >= bitness {
			d.markUnknownScalar()
			return
		}
	default:
		d.markUnknownScalar()
		return
	}
	switch op {
	case aluADD:
		d.add32(s)
		d.add64(s)
		d.varOff = d.varOff.add(s.varOff)
	case aluSUB:
		d.sub32(s)
		d.sub64(s)
		d.varOff = d.varOff.sub(s.varOff)
	case aluNEG:
		old := *d
		d.markKnown(0)
		d.sub32(&old)
		d.sub64(&old)
		d.varOff = old.varOff.neg()
	case aluMUL:
		d.varOff = d.varOff.mul(s.varOff)
		d.mul32(s)
		d.mul64(s)
	case aluAND:
		d.varOff = d.varOff.and(s.varOff)
		d.and32(s)
		d.and64(s)
	case aluOR:
		d.varOff = d.varOff.or(s.varOff)
		d.or32(s)
		d.or64(s)
	case aluXOR:
		d.varOff = d.varOff.xor(s.varOff)
		d.xor32(s)
		d.xor64(s)
	case aluLSH:
		if alu32 {
			umin, umax := uint64(s.u32min), uint64(s.u32max)
			sub := d.varOff.subreg()
			d.lsh32(umin, umax)
			d.varOff = sub.lshift(uint(umin)).subreg()
			d.mark64Unbounded()
			d.update32Bounds()
		} else {
			d.lsh64(s.umin, s.umax)
			d.lsh32(s.umin, s.umax)
			d.varOff = d.varOff.lshift(uint(s.umin))
			d.updateBounds()
		}
	case aluRSH:
		if alu32 {
			umin, umax := s.u32min, s.u32max
			sub := d.varOff.subreg()
			d.s32min, d.s32max = math.MinInt32, math.MaxInt32
			d.varOff = sub.rshift(uint(umin))
			d.u32min >>= umax
			d.u32max >>= umin
			d.mark64Unbounded()
			d.update32Bounds()
		} else {
			d.smin, d.smax = math.MinInt64, math.MaxInt64
			d.varOff = d.varOff.rshift(uint(s.umin))
			d.umin >>= s.umax
			d.umax >>= s.umin
			d.mark32Unbounded()
			d.updateBounds()
		}
	case aluARSH:
		if alu32 {
			sh := uint(s.u32min)
			d.s32min >>= sh
			d.s32max >>= sh
			d.varOff = d.varOff.subreg().arshift(sh, 32)
			d.u32min, d.u32max = 0, math.MaxUint32
			d.mark64Unbounded()
			d.update32Bounds()
		} else {
			sh := uint(s.umin)
			d.smin >>= sh
			d.smax >>= sh
			d.varOff = d.varOff.arshift(sh, 64)
			d.umin, d.umax = 0, math.MaxUint64
			d.mark32Unbounded()
			d.updateBounds()
		}
	}
	if alu32 {
		d.zext32To64()
	}
	d.boundsSync()
}
