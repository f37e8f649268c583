package loader

import (
	"github.com/cilium/ebpf/asm"
)

// reachableSlots returns, for each instruction slot of insns, whether some
// path from the entry (slot 0), through bpf-to-bpf calls and callbacks, can
// reach it when the constants CO-RE wrote into the code are taken into
// account: `r1 = 0; if r1 == 0 goto +1` never runs the next instruction.
// This is what lets the kernel verifier accept a poisoned access guarded by
// bpf_core_field_exists(), and what lets skmsg accept it too.
//
// The analysis only knows registers set by constant moves and 64-bit
// immediate loads (and copies of them); everything else makes a register
// unknown, and a branch on an unknown register may go both ways. It can
// therefore call dead code reachable, never the other way round.
func reachableSlots(insns asm.Instructions) []bool {
	n := 0
	for i := range insns {
		n += int(insns[i].Width())
	}
	at := make([]int, n) // slot -> index in insns, -1 for second halves
	symbols := map[string]int{}
	slot := 0
	for i := range insns {
		at[slot] = i
		for k := 1; k < int(insns[i].Width()); k++ {
			at[slot+k] = -1
		}
		if sym := insns[i].Symbol(); sym != "" {
			symbols[sym] = slot
		}
		slot += int(insns[i].Width())
	}

	states := make([]*constRegs, n)
	var work []int
	push := func(s int, st *constRegs) {
		if s < 0 || s >= n || at[s] < 0 {
			return // malformed target: the interpreter rejects it
		}
		if states[s] == nil {
			cp := *st
			states[s] = &cp
			work = append(work, s)
			return
		}
		if states[s].meet(st) {
			work = append(work, s)
		}
	}
	var unknown constRegs
	push(0, &unknown)

	for len(work) > 0 {
		s := work[len(work)-1]
		work = work[:len(work)-1]
		ins := &insns[at[s]]
		st := *states[s]
		next := s + int(ins.Width())
		op := ins.OpCode

		switch cls := op.Class(); {
		case op.IsDWordLoad():
			if ins.Src == 0 {
				st.set(ins.Dst, uint64(ins.Constant))
			} else {
				st.unset(ins.Dst)
			}
			if ins.IsLoadOfFunctionPointer() {
				if entry, ok := symbols[ins.Reference()]; ok {
					push(entry, &unknown)
				}
			}
			push(next, &st)
		case cls.IsALU():
			st.alu(ins, cls == asm.ALU64Class)
			push(next, &st)
		case cls == asm.LdXClass:
			st.unset(ins.Dst)
			push(next, &st)
		case cls == asm.LdClass: // legacy packet loads clobber r0..r5
			st.clobberCall()
			push(next, &st)
		case cls == asm.StXClass && op.Mode() == asm.AtomicMode:
			switch op.AtomicOp() {
			case asm.CmpXchg:
				st.unset(asm.R0)
			case asm.AddAtomic, asm.AndAtomic, asm.OrAtomic, asm.XorAtomic:
			default: // fetch variants and xchg write src
				st.unset(ins.Src)
			}
			push(next, &st)
		case cls.IsJump():
			switch jop := op.JumpOp(); jop {
			case asm.Exit:
			case asm.Call:
				if ins.IsFunctionCall() {
					if entry, ok := symbols[ins.Reference()]; ok {
						push(entry, &unknown)
					} else if ins.Reference() == "" {
						push(next+int(ins.Constant), &unknown)
					}
				}
				st.clobberCall()
				push(next, &st)
			case asm.Ja:
				if cls == asm.JumpClass {
					push(next+int(ins.Offset), &st)
				} else {
					push(next+int(ins.Constant), &st)
				}
			case asm.JCOND:
				push(next, &st)
				push(next+int(ins.Offset), &st)
			default:
				taken, known := st.branch(ins, cls == asm.JumpClass)
				if !known || taken {
					push(next+int(ins.Offset), &st)
				}
				if !known || !taken {
					push(next, &st)
				}
			}
		default:
			push(next, &st)
		}
	}

	out := make([]bool, n)
	for s := range states {
		out[s] = states[s] != nil
	}
	return out
}

// constRegs tracks which registers hold a known constant.
type constRegs struct {
	known uint16
	val   [11]uint64
}

func (c *constRegs) set(r asm.Register, v uint64) {
	if r <= asm.R10 {
		c.known |= 1 << r
		c.val[r] = v
	}
}

func (c *constRegs) unset(r asm.Register) {
	if r <= asm.R10 {
		c.known &^= 1 << r
	}
}

func (c *constRegs) get(r asm.Register) (uint64, bool) {
	if r > asm.R10 || c.known&(1<<r) == 0 {
		return 0, false
	}
	return c.val[r], true
}

// clobberCall forgets r0..r5, which a call overwrites.
func (c *constRegs) clobberCall() { c.known &^= 0b111111 }

// meet keeps in c only what o agrees with and reports whether c changed.
func (c *constRegs) meet(o *constRegs) bool {
	before := c.known
	c.known &= o.known
	for r := 0; r < len(c.val); r++ {
		if c.known&(1<<r) != 0 && c.val[r] != o.val[r] {
			c.known &^= 1 << r
		}
	}
	return c.known != before
}

func (c *constRegs) alu(ins *asm.Instruction, wide bool) {
	if ins.OpCode.ALUOp() != asm.Mov {
		c.unset(ins.Dst)
		return
	}
	var v uint64
	if ins.OpCode.Source() == asm.ImmSource {
		v = uint64(ins.Constant)
	} else {
		src, ok := c.get(ins.Src)
		if !ok {
			c.unset(ins.Dst)
			return
		}
		v = src
	}
	if !wide {
		v = uint64(uint32(v))
	}
	c.set(ins.Dst, v)
}

// branch evaluates a conditional jump whose operands are both known.
func (c *constRegs) branch(ins *asm.Instruction, wide bool) (taken, known bool) {
	a, ok := c.get(ins.Dst)
	if !ok {
		return false, false
	}
	var b uint64
	if ins.OpCode.Source() == asm.ImmSource {
		b = uint64(ins.Constant) // the immediate, sign-extended to 64 bits
	} else if b, ok = c.get(ins.Src); !ok {
		return false, false
	}
	var sa, sb int64
	if wide {
		sa, sb = int64(a), int64(b)
	} else {
		a, b = uint64(uint32(a)), uint64(uint32(b))
		sa, sb = int64(int32(a)), int64(int32(b))
	}
	switch ins.OpCode.JumpOp() {
	case asm.JEq:
		return a == b, true
	case asm.JNE:
		return a != b, true
	case asm.JGT:
		return a > b, true
	case asm.JGE:
		return a >= b, true
	case asm.JLT:
		return a < b, true
	case asm.JLE:
		return a <= b, true
	case asm.JSet:
		return a&b != 0, true
	case asm.JSGT:
		return sa > sb, true
	case asm.JSGE:
		return sa >= sb, true
	case asm.JSLT:
		return sa < sb, true
	case asm.JSLE:
		return sa <= sb, true
	}
	return false, false
}
