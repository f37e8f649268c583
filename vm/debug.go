package vm

// This file is the debugger's view of a Machine: a hook before each
// instruction of a traced run, and read-only inspection of the state it
// stops in. It costs nothing when no tracer is set: the fast loop in
// exec.go does not know about it.

// Breaker is implemented by a Tracer that must see each instruction before
// it executes (a debugger deciding whether to stop there). Before is called
// on the goroutine running the program and may block as long as it likes:
// the run waits, with the machine exactly as the instruction will find it.
// During the call the machine may be inspected (Regs, CallStack, Peek,
// Bytes, RegionAt) but not run or changed.
type Breaker interface {
	Before(at *At)
	// Done is called when a run ends (not a callback's), with what Run
	// will return.
	Done(m *Machine, r0 uint64, err error)
}

// At is where a machine is about to execute an instruction. The pointer is
// only valid during the Before call.
type At struct {
	Machine *Machine
	Program *Program
	PC      int // instruction slot, as Step.PC
	Frame   int // call depth, 0 for the entry function
	// Executed is how many instructions the run has executed so far (0
	// before the first instruction of a run).
	Executed uint64
}

// CallFrame is one function of the call stack of a stopped run.
type CallFrame struct {
	Program *Program
	// PC is the instruction the frame is at: the next to execute in the
	// innermost frame, the call instruction in the others (for a frame
	// that called a helper which called back into the program, the helper
	// call).
	PC int
	// Callback is set for a function called by a helper (bpf_loop and
	// friends) rather than by a call instruction.
	Callback bool
	// FP is the frame pointer (r10) of the frame.
	FP uint64
	// Saved holds r6..r9 of an outer frame as they were at its call (they
	// are restored on return); for the innermost frame they are the live
	// registers.
	Saved [4]uint64
}

// CallStack returns the frames of the current run, innermost first. It is
// meant for a Breaker's Before; outside a run it returns nil.
func (m *Machine) CallStack() []CallFrame {
	mi := &m.impl
	st := &mi.st
	if mi.cur == nil || st.prog == nil {
		return nil
	}
	out := make([]CallFrame, 0, st.depth+1)
	out = append(out, CallFrame{Program: st.prog, PC: st.pc, FP: frameTop(st.depth),
		Saved: [4]uint64{st.regs[6], st.regs[7], st.regs[8], st.regs[9]}})
	for d := st.depth - 1; d >= 0; d-- {
		f := &mi.frames[d]
		cf := CallFrame{Program: f.prog, PC: f.ret - 1, FP: frameTop(d), Saved: f.regs}
		if f.prog != nil && f.ret == f.prog.impl.callbackRet() {
			cf.Callback = true
			cf.PC = mi.cbSite[d]
		}
		out = append(out, cf)
	}
	return out
}

// RegionInfo describes the region an address points into.
type RegionInfo struct {
	ID     RegionID
	Name   string
	Offset uint32 // of the address inside the region
	Size   uint32
	Perm   Perm
	// Accessor is set for regions served by an Accessor (a context whose
	// fields are computed): they have no byte view, use Peek.
	Accessor bool
}

// RegionAt tells which region addr points into, if any. An address past
// the end of a region still names it (Offset >= Size): a debugger shows
// such a pointer as region+offset too.
func (m *Machine) RegionAt(addr uint64) (RegionInfo, bool) {
	r := m.lookup(addr)
	if r == nil {
		return RegionInfo{}, false
	}
	return RegionInfo{ID: RegionID(addr >> RegionShift), Name: r.name, Offset: uint32(addr),
		Size: r.size, Perm: r.perm, Accessor: r.access != nil}, true
}

// Peek reads an n-byte (1, 2, 4 or 8) little-endian value at addr as a
// load instruction would, through the region's Accessor if it has one,
// without changing the machine. A failure is a *Fault.
func (m *Machine) Peek(addr uint64, n int) (uint64, error) {
	switch n {
	case 1, 2, 4, 8:
	default:
		return 0, m.fault(m.impl.pc, addr, n, false, nil, FaultBounds, nil)
	}
	r, off, kind := m.check(addr, n, PermRead)
	if kind != 0 {
		return 0, m.fault(m.impl.pc, addr, n, false, r, kind, nil)
	}
	if r.access != nil {
		v, err := r.access.Load(off, n)
		if err != nil {
			return 0, m.fault(m.impl.pc, addr, n, false, r, FaultAccessor, err)
		}
		return v, nil
	}
	return loadLE(r.data[off:], n), nil
}
