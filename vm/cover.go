package vm

// Coverage is told about every executed instruction, for coverage reports.
// Like a Tracer it makes runs go through the stepping loop, so with none
// set a Machine pays nothing for it; unlike a Tracer it gets no register
// or memory details, which keeps the cost per instruction to one call.
type Coverage interface {
	// Cover is called after the instruction at slot pc of p ran. next is
	// the slot execution went on at: for a conditional jump, pc+1 when it
	// fell through and its target when it jumped. After a call, a tail
	// call or an exit next is in another function or program and means
	// nothing for p.
	Cover(p *Program, pc, next int)
}

// SetCoverage sets (or with nil clears) the coverage hook. It may be set
// together with a tracer.
func (m *Machine) SetCoverage(c Coverage) {
	m.impl.cover = c
	m.impl.stepped = c != nil || m.impl.tracer != nil
}

// coverLoop is traceLoop for coverage alone: no Step to fill (whose
// variables would be allocated on every run), one hook call per
// instruction.
func (m *Machine) coverLoop(budget uint64) (stopKind, error) {
	mi := &m.impl
	st := &mi.st
	c := mi.cover
	for {
		if st.pc == st.prog.impl.callbackRet() {
			return stopExit, nil // a callback returned
		}
		if mi.executed >= budget {
			return stopLimit, &RunError{Program: st.prog.Name, PC: st.pc, Err: ErrBudget}
		}
		prog, pc := st.prog, st.pc
		stop, n, err := m.exec(st, 1)
		mi.executed += n
		c.Cover(prog, pc, st.pc)
		if stop != stopLimit {
			return stop, err
		}
	}
}
