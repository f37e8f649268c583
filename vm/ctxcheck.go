package vm

// The context check is a small abstract interpretation over all paths of
// the program, like a much reduced kernel verifier: it tracks which
// registers and 8-byte stack slots hold "context + known constant" (and,
// to follow spills, "frame pointer + constant"), joins states where paths
// meet (a value survives only where all sides agree) and, once the states
// are stable, asks Options.CheckContext about every load and store whose
// base is the context.

type akind uint8

const (
	aUnknown akind = iota
	aCtx           // context pointer + v
	aFP            // this frame's r10 + v
	aConst         // scalar v
)

type aval struct {
	k akind
	v int64
}

const numSlots = StackSize / 8

type astate struct {
	regs  [NumRegs]aval
	slots [numSlots]aval // slot i is [r10-512+8i, r10-512+8i+8)
	// escaped is set once a stack address left the registers (passed to a
	// call, stored to memory, or lost precision): any store through an
	// unknown pointer may then hit the stack.
	escaped bool
}

func (s *astate) clearSlots() { s.slots = [numSlots]aval{} }

// join merges o into s and reports whether s changed.
func (s *astate) join(o *astate) bool {
	changed := false
	for i := range s.regs {
		if s.regs[i] != o.regs[i] && s.regs[i].k != aUnknown {
			s.regs[i] = aval{}
			changed = true
		}
	}
	for i := range s.slots {
		if s.slots[i] != o.slots[i] && s.slots[i].k != aUnknown {
			s.slots[i] = aval{}
			changed = true
		}
	}
	if o.escaped && !s.escaped {
		s.escaped = true
		changed = true
	}
	return changed
}

type ctxChecker struct {
	d      *decoder
	ops    []op
	starts []bool // block starts
	states []*astate
	work   []int
	queued []bool
}

func (d *decoder) checkContext() error {
	ops := d.prog.ops
	n := len(ops)
	c := &ctxChecker{d: d, ops: ops, starts: make([]bool, n), states: make([]*astate, n), queued: make([]bool, n)}
	c.starts[0] = true
	for pc := range ops {
		o := &ops[pc]
		switch {
		case o.code == opCallLocal:
			c.starts[o.aux] = true
		case o.code == opJa:
			c.starts[o.aux] = true
		case o.code >= opJeqImm && o.code <= opJsle32Reg:
			c.starts[o.aux] = true
			c.starts[pc+1] = true
		}
	}
	entry := &astate{}
	entry.regs[1] = aval{k: aCtx}
	entry.regs[10] = aval{k: aFP}
	c.merge(0, entry)
	for len(c.work) > 0 {
		pc := c.work[len(c.work)-1]
		c.work = c.work[:len(c.work)-1]
		c.queued[pc] = false
		if err := c.walk(pc, false); err != nil {
			return err
		}
	}
	for pc, s := range c.states {
		if s != nil {
			if err := c.walk(pc, true); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *ctxChecker) merge(pc int, s *astate) {
	if cur := c.states[pc]; cur == nil {
		cp := *s
		c.states[pc] = &cp
	} else if !cur.join(s) {
		return
	}
	if !c.queued[pc] {
		c.queued[pc] = true
		c.work = append(c.work, pc)
	}
}

// walk interprets the block starting at pc; with check set it calls
// CheckContext instead of propagating states.
func (c *ctxChecker) walk(pc int, check bool) error {
	s := *c.states[pc]
	for {
		o := &c.ops[pc]
		next := pc + 1
		switch {
		case o.code == opExit:
			return nil
		case o.code == opJa:
			if !check {
				c.merge(int(o.aux), &s)
			}
			return nil
		case o.code >= opJeqImm && o.code <= opJsle32Reg:
			if !check {
				c.merge(int(o.aux), &s)
				c.merge(next, &s)
			}
			return nil
		case o.code == opCallLocal:
			if !check {
				callee := &astate{}
				for r := 1; r <= 5; r++ {
					if v := s.regs[r]; v.k != aFP {
						callee.regs[r] = v
					}
				}
				callee.regs[10] = aval{k: aFP}
				c.merge(int(o.aux), callee)
			}
			s.afterCall()
		case o.code == opCallHelper || o.code == opCallReg:
			s.afterCall()
		case o.code == opLdImm64:
			s.regs[o.dst] = aval{k: aConst, v: int64(o.imm)}
			next++
		case o.code >= opLdxB && o.code <= opLdxSW:
			base := s.regs[o.src]
			if err := c.access(check, pc, base, o, false); err != nil {
				return err
			}
			v := aval{}
			if base.k == aFP && o.code == opLdxDW {
				if i, ok := slotOf(base.v + int64(o.imm)); ok {
					v = s.slots[i]
				}
			}
			s.regs[o.dst] = v
		case o.code >= opStB && o.code <= opStxDW:
			base := s.regs[o.dst]
			if err := c.access(check, pc, base, o, true); err != nil {
				return err
			}
			var v aval
			switch o.code {
			case opStDW:
				v = aval{k: aConst, v: int64(o.aux)}
			case opStxB, opStxH, opStxW, opStxDW:
				v = s.regs[o.src]
				if v.k == aFP {
					s.escaped = true
				}
			}
			s.store(base, int64(o.imm), int(o.size), v)
		case o.code == opAtomic:
			if o.aux == atomicLoadAcq {
				if err := c.access(check, pc, s.regs[o.src], o, false); err != nil {
					return err
				}
				s.regs[o.dst] = aval{}
				break
			}
			base := s.regs[o.dst]
			if err := c.access(check, pc, base, o, true); err != nil {
				return err
			}
			if s.regs[o.src].k == aFP {
				s.escaped = true
			}
			s.store(base, int64(o.imm), int(o.size), aval{})
			switch {
			case o.aux == atomicCmpXchg:
				s.regs[0] = aval{}
			case o.aux&atomicFetch != 0:
				s.regs[o.src] = aval{}
			}
		default:
			s.alu(o)
		}
		pc = next
		if c.starts[pc] {
			if !check {
				c.merge(pc, &s)
			}
			return nil
		}
	}
}

func (c *ctxChecker) access(check bool, pc int, base aval, o *op, write bool) error {
	if !check || base.k != aCtx {
		return nil
	}
	off := base.v + int64(int64(o.imm))
	if off < -1<<31 || off >= 1<<31 {
		return c.d.errf(pc, "context access at offset %d", off)
	}
	sx := o.code == opLdxSB || o.code == opLdxSH || o.code == opLdxSW
	if err := c.d.opts.CheckContext(pc, int32(off), int(o.size), write, sx); err != nil {
		return c.d.errf(pc, "invalid context access: %v", err)
	}
	return nil
}

func slotOf(fpOff int64) (int, bool) {
	if fpOff < -StackSize || fpOff > -8 || fpOff%8 != 0 {
		return 0, false
	}
	return int((fpOff + StackSize) / 8), true
}

// store records a store of size bytes at base+off.
func (s *astate) store(base aval, off int64, size int, v aval) {
	switch base.k {
	case aFP:
		a := base.v + off
		if i, ok := slotOf(a); ok && size == 8 {
			s.slots[i] = v
			return
		}
		for b := a; b < a+int64(size); b++ {
			if i, ok := slotOf(b &^ 7); ok {
				s.slots[i] = aval{}
			}
		}
	case aUnknown:
		if s.escaped {
			s.clearSlots()
		}
	}
}

func (s *astate) afterCall() {
	for r := 1; r <= 5; r++ {
		if s.regs[r].k == aFP {
			s.escaped = true
		}
	}
	if s.escaped {
		s.clearSlots()
	}
	for r := 0; r <= 5; r++ {
		s.regs[r] = aval{}
	}
}

func (s *astate) alu(o *op) {
	d := &s.regs[o.dst]
	src := s.regs[o.src]
	old := *d
	switch o.code {
	case opMov64Imm:
		*d = aval{k: aConst, v: int64(o.imm)}
	case opMov32Imm:
		*d = aval{k: aConst, v: int64(uint32(o.imm))}
	case opMov64Reg:
		*d = src
	case opAdd64Imm:
		if d.k != aUnknown {
			d.v += int64(o.imm)
		}
	case opSub64Imm:
		if d.k != aUnknown {
			d.v -= int64(o.imm)
		}
	case opAdd64Reg:
		switch {
		case src.k == aConst && d.k != aUnknown:
			d.v += src.v
		case d.k == aConst && (src.k == aCtx || src.k == aFP):
			*d = aval{k: src.k, v: d.v + src.v}
		default:
			*d = aval{}
		}
	case opSub64Reg:
		switch {
		case src.k == aConst && d.k != aUnknown:
			d.v -= src.v
		default:
			*d = aval{}
		}
	default:
		*d = aval{}
	}
	if old.k == aFP && d.k != aFP || src.k == aFP && d.k == aUnknown && o.code != opMov64Imm && o.code != opMov32Imm {
		s.escaped = true
	}
}
