package verifier

import (
	"fmt"
	"math/bits"
)

// tnum is a tracked number (kernel/bpf/tnum.c): bits set in mask are
// unknown, the others have the value of the same bits in value.
type tnum struct{ value, mask uint64 }

var tnumUnknown = tnum{0, ^uint64(0)}

func tnumConst(v uint64) tnum { return tnum{v, 0} }

// tnumRange is the tnum of all numbers in [min, max].
func tnumRange(min, max uint64) tnum {
	chi := min ^ max
	b := uint(bits.Len64(chi))
	if b > 63 {
		return tnumUnknown
	}
	delta := (uint64(1) << b) - 1
	return tnum{min &^ delta, delta}
}

func (a tnum) isConst() bool             { return a.mask == 0 }
func (a tnum) isUnknown() bool           { return a.mask == ^uint64(0) }
func (a tnum) equalsConst(v uint64) bool { return a.mask == 0 && a.value == v }

func (a tnum) lshift(s uint) tnum { return tnum{a.value << s, a.mask << s} }
func (a tnum) rshift(s uint) tnum { return tnum{a.value >> s, a.mask >> s} }

// arshift shifts right arithmetically at width insnBitness (32 or 64).
func (a tnum) arshift(s uint, bitness int) tnum {
	if bitness == 32 {
		return tnum{uint64(uint32(int32(uint32(a.value)) >> s)), uint64(uint32(int32(uint32(a.mask)) >> s))}
	}
	return tnum{uint64(int64(a.value) >> s), uint64(int64(a.mask) >> s)}
}

func (a tnum) add(b tnum) tnum {
	sm := a.mask + b.mask
	sv := a.value + b.value
	sigma := sm + sv
	chi := sigma ^ sv
	mu := chi | a.mask | b.mask
	return tnum{sv &^ mu, mu}
}

func (a tnum) sub(b tnum) tnum {
	dv := a.value - b.value
	alpha := dv + a.mask
	beta := dv - b.mask
	chi := alpha ^ beta
	mu := chi | a.mask | b.mask
	return tnum{dv &^ mu, mu}
}

func (a tnum) neg() tnum { return tnumConst(0).sub(a) }

func (a tnum) and(b tnum) tnum {
	alpha := a.value | a.mask
	beta := b.value | b.mask
	v := a.value & b.value
	return tnum{v, alpha & beta &^ v}
}

func (a tnum) or(b tnum) tnum {
	v := a.value | b.value
	mu := a.mask | b.mask
	return tnum{v, mu &^ v}
}

func (a tnum) xor(b tnum) tnum {
	v := a.value ^ b.value
	mu := a.mask | b.mask
	return tnum{v &^ mu, mu}
}

// mul is the kernel's tnum_mul (shift-and-add over a's bits).
func (a tnum) mul(b tnum) tnum {
	accV := a.value * b.value
	accM := tnum{0, 0}
	for a.value != 0 || a.mask != 0 {
		if a.value&1 != 0 {
			accM = accM.add(tnum{0, b.mask})
		} else if a.mask&1 != 0 {
			accM = accM.add(tnum{0, b.value | b.mask})
		}
		a = a.rshift(1)
		b = b.lshift(1)
	}
	return tnum{accV, 0}.add(accM)
}

// intersect combines two pieces of knowledge about the same number.
func (a tnum) intersect(b tnum) tnum {
	v := a.value | b.value
	mu := a.mask & b.mask
	return tnum{v &^ mu, mu}
}

// cast keeps the low size bytes.
func (a tnum) cast(size int) tnum {
	if size >= 8 {
		return a
	}
	m := (uint64(1) << (uint(size) * 8)) - 1
	return tnum{a.value & m, a.mask & m}
}

// in reports whether every value b can take is one a can take.
func (a tnum) in(b tnum) bool {
	if b.mask&^a.mask != 0 {
		return false
	}
	return a.value == b.value&^a.mask
}

func (a tnum) isAligned(size uint64) bool {
	if size == 0 {
		return true
	}
	return (a.value|a.mask)&(size-1) == 0
}

func (a tnum) subreg() tnum { return a.cast(4) }

func (a tnum) clearSubreg() tnum { return a.rshift(32).lshift(32) }

func (a tnum) withSubreg(sub tnum) tnum { return a.clearSubreg().or(sub.subreg()) }

func (a tnum) constSubreg(v uint32) tnum { return a.withSubreg(tnumConst(uint64(v))) }

func (a tnum) String() string { return fmt.Sprintf("(%#x; %#x)", a.value, a.mask) }
