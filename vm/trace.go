package vm

// runTraced steps the interpreter one instruction at a time so the fast
// loop carries no tracing code at all.
func (m *Machine) runTraced(budget uint64) (uint64, error) {
	var r0 uint64
	stop, err := m.traceLoop(budget)
	if stop == stopExit {
		r0 = m.impl.st.regs[0]
	}
	if b, ok := m.impl.tracer.(Breaker); ok {
		b.Done(m, r0, err)
	}
	return r0, err
}

// traceLoop steps until the current function returns to its caller outside
// the vm (the entry function, or a callback), the budget of the run is
// spent, or an error.
func (m *Machine) traceLoop(budget uint64) (stopKind, error) {
	mi := &m.impl
	st := &mi.st
	t := mi.tracer
	if t == nil {
		return m.coverLoop(budget)
	}
	var step Step
	var mw MemWrite
	var hc HelperCall
	brk, _ := t.(Breaker)
	var at At
	for {
		if st.pc == st.prog.impl.callbackRet() {
			return stopExit, nil // a callback returned: no instruction to trace
		}
		if mi.executed >= budget {
			return stopLimit, &RunError{Program: st.prog.Name, PC: st.pc, Err: ErrBudget}
		}
		prog, pc, depth := st.prog, st.pc, st.depth
		if brk != nil {
			at = At{Machine: m, Program: prog, PC: pc, Frame: depth, Executed: mi.executed}
			brk.Before(&at)
		}
		o := prog.impl.ops[pc]
		var before [16]uint64
		copy(before[:], st.regs[:16])
		stop, n, err := m.exec(st, 1)
		mi.executed += n
		if c := mi.cover; c != nil {
			c.Cover(prog, pc, st.pc)
		}

		step = Step{Program: prog, Frame: depth, PC: pc}
		if i := prog.InsnIndex(pc); i >= 0 {
			step.Insn = prog.Insns[i]
		}
		copy(step.Before[:], before[:NumRegs])
		copy(step.After[:], st.regs[:NumRegs])
		if err == nil {
			if w, ok := m.memWrite(&o, &before); ok {
				mw = w
				step.Mem = &mw
			}
		}
		if o.code == opCallHelper || o.code == opCallReg {
			if h, ok := helperOf(prog, &o, &before); ok {
				hc = HelperCall{Program: prog, PC: pc, Helper: h, Ret: st.regs[0]}
				copy(hc.Args[:], before[1:6])
				if he, ok := err.(*HelperError); ok {
					hc.Err = he.Err
				} else if stop == stopExit {
					hc.Err = ErrStop // a helper call only ends the run that way
				}
				t.Helper(&hc)
			}
		}
		t.Step(&step)
		if stop != stopLimit {
			return stop, err
		}
	}
}

func helperOf(p *Program, o *op, regs *[16]uint64) (Helper, bool) {
	idx := o.aux
	if o.code == opCallReg {
		id := regs[o.dst&15]
		if id > 0xffffffff {
			return Helper{}, false
		}
		i, ok := p.impl.helperIdx[asmFunc(id)]
		if !ok {
			return Helper{}, false
		}
		idx = i
	}
	return p.impl.helpers[idx], true
}

// memWrite describes the store o made, given the registers before it.
func (m *Machine) memWrite(o *op, before *[16]uint64) (MemWrite, bool) {
	var addr, v uint64
	n := int(o.size)
	switch o.code {
	case opStB, opStH, opStW, opStDW:
		addr, v = before[o.dst&15]+o.imm, uint64(int64(o.aux))
	case opStxB, opStxH, opStxW, opStxDW:
		addr, v = before[o.dst&15]+o.imm, before[o.src&15]
	case opAtomic:
		if o.aux == atomicLoadAcq {
			return MemWrite{}, false
		}
		addr = before[o.dst&15] + o.imm
		if o.aux == atomicStRel {
			v = before[o.src&15]
		} else if b, err := m.bytes(addr, n, PermRead); err == nil {
			v = loadLE(b, n)
		}
	default:
		return MemWrite{}, false
	}
	if n < 8 {
		v &= 1<<(8*n) - 1
	}
	w := MemWrite{Addr: addr, Size: n, Value: v}
	if r := m.lookup(addr); r != nil {
		w.Region = r.name
	}
	return w, true
}
