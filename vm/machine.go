package vm

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

type machineImpl struct {
	space *Space

	// Region cache of the hot loop: the last region read from and the last
	// written to (plain memory with the permission checked).
	rdID   uint64
	rdData []byte
	wrID   uint64
	wrData []byte

	stack       [stackTotal]byte
	stackRegion region
	regions     []region // per run, id firstRunRegion+i

	st        state
	frames    [MaxCallDepth]frame
	cur       *Program
	pc        int // pc of the helper being called, for faults it reports
	tail      *Program
	tailCount int
	budget    uint64 // override of the programs' budget; 0: none
	err       error  // why exec stopped, if it failed
	exited    bool   // exec stopped because the program exited
	executed  uint64
	tracer    Tracer
	cover     Coverage
	// stepped is set when a tracer or a coverage hook wants every
	// instruction: runs then go through the stepping loop of trace.go
	// instead of the fast one, so the fast loop carries no hook code.
	stepped bool

	// Callbacks (callback.go). left is the budget the interrupted fast loop
	// had when it called the current helper; a callback consumes from it.
	runBudget uint64
	left      uint64
	cbErr     error // the last error CallFunc returned, passed through unwrapped
	stopped   bool  // exec stopped because a helper returned ErrStop
	// cbSite[d] is the helper call that pushed frame d+1 for a callback,
	// for CallStack (debug.go).
	cbSite [MaxCallDepth]int
}

func (s *Space) newMachine() *Machine {
	m := &Machine{}
	mi := &m.impl
	mi.space = s
	mi.stackRegion = region{name: "stack", data: mi.stack[:], perm: PermRW, size: stackTotal}
	mi.regions = make([]region, 0, 8)
	mi.invalidateCache()
	return m
}

var (
	errNilProgram   = errors.New("nil program")
	errOtherSpace   = errors.New("program was prepared for another address space")
	errNotInHelper  = errors.New("TailCall outside a helper call")
	errInternalFail = errors.New("internal interpreter error")
	errBusy         = errors.New("machine is already running a program (Run called from a helper?)")
)

func (m *Machine) run(p *Program, arg uint64) (uint64, error) {
	return m.runArgs(p, [5]uint64{arg})
}

// RunArgs is Run with r1..r5 set from args (the kernel's test runs and the
// conformance suite pass more than the context).
func (m *Machine) RunArgs(p *Program, args [5]uint64) (uint64, error) { return m.runArgs(p, args) }

func (m *Machine) runArgs(p *Program, args [5]uint64) (r0 uint64, err error) {
	mi := &m.impl
	if p == nil {
		return 0, errNilProgram
	}
	if p.impl.space != mi.space {
		return 0, &RunError{Program: p.Name, PC: 0, Err: errOtherSpace}
	}
	if mi.cur != nil {
		return 0, &RunError{Program: p.Name, PC: 0, Err: errBusy}
	}
	budget := mi.budget
	if budget == 0 {
		budget = p.impl.budget
	}
	mi.cur = p
	mi.tail = nil
	mi.tailCount = 0
	mi.executed = 0
	mi.runBudget = budget
	mi.cbErr = nil
	mi.stopped = false
	st := &mi.st
	r := &st.regs
	r[0], r[1], r[2], r[3], r[4], r[5] = 0, args[0], args[1], args[2], args[3], args[4]
	r[6], r[7], r[8], r[9], r[10] = 0, 0, 0, 0, frameTop(0)
	st.pc = 0
	st.depth = 0
	st.prog = p
	defer func() {
		// Last line of defence: an interpreter bug must not take the
		// embedder down. Tests and the fuzzer treat this error as a bug.
		if e := recover(); e != nil {
			r0 = 0
			err = &RunError{Program: mi.cur.Name, PC: st.pc, Err: fmt.Errorf("%w: %v", errInternalFail, e)}
		}
		mi.cur = nil
	}()
	if mi.stepped {
		return m.runTraced(budget)
	}
	stop, n, err := m.exec(st, budget)
	mi.executed = n
	switch stop {
	case stopExit:
		return st.regs[0], nil
	case stopLimit:
		return 0, &RunError{Program: st.prog.Name, PC: st.pc, Err: ErrBudget}
	}
	return 0, err
}

func (m *Machine) setBudget(n uint64) { m.impl.budget = n }
func (m *Machine) setTracer(t Tracer) {
	m.impl.tracer = t
	m.impl.stepped = t != nil || m.impl.cover != nil
}
func (m *Machine) executed() uint64  { return m.impl.executed }
func (m *Machine) program() *Program { return m.impl.cur }

// Space is the address space of m.
func (m *Machine) Space() *Space { return m.impl.space }

// Regs returns a copy of the register file as it was when the current
// helper was called (for helpers that need more than r1..r5, or tracing).
func (m *Machine) Regs() [NumRegs]uint64 {
	var r [NumRegs]uint64
	copy(r[:], m.impl.st.regs[:NumRegs])
	return r
}

func (m *Machine) tailCall(next *Program) error {
	mi := &m.impl
	if mi.cur == nil {
		return errNotInHelper
	}
	if next == nil {
		return errNilProgram
	}
	if next.impl.space != mi.space {
		return errOtherSpace
	}
	if mi.tailCount >= MaxTailCalls {
		return ErrTailCallLimit
	}
	mi.tailCount++
	mi.tail = next
	return nil
}

// atomicMu serialises atomics on memory whose Go address is not aligned
// (a region backed by an odd sub-slice); aligned ones use sync/atomic.
var atomicMu sync.Mutex

func (m *Machine) atomic(pc int, o *op, regs *regFile) bool {
	if err := m.atomicErr(pc, o, regs); err != nil {
		m.impl.err = err
		return false
	}
	return true
}

func (m *Machine) atomicErr(pc int, o *op, regs *regFile) error {
	n := int(o.size)
	switch o.aux {
	case atomicLoadAcq:
		v, err := m.load(pc, regs[o.src]+o.imm, n)
		if err != nil {
			return err
		}
		regs[o.dst] = v
		return nil
	case atomicStRel:
		return m.store(pc, regs[o.dst]+o.imm, n, regs[o.src])
	}
	addr := regs[o.dst] + o.imm
	r, off, kind := m.check(addr, n, PermRW)
	if kind == 0 && r.access != nil {
		kind = FaultAccessor
	}
	if kind == 0 && off%uint32(n) != 0 {
		kind = FaultAlignment
	}
	if kind != 0 {
		var err error
		if kind == FaultAccessor {
			err = errNoByteView
		}
		return m.fault(pc, addr, n, true, r, kind, err)
	}
	b := r.data[off : off+uint32(n)]
	src := regs[o.src]
	kindOp := o.aux
	apply := func(old uint64) (uint64, bool) {
		switch kindOp &^ atomicFetch {
		case 0x00:
			return old + src, true
		case 0x40:
			return old | src, true
		case 0x50:
			return old & src, true
		case 0xa0:
			return old ^ src, true
		case atomicXchg &^ atomicFetch:
			return src, true
		default: // cmpxchg
			want := regs[0]
			if n == 4 {
				want = uint64(uint32(want))
			}
			return src, old == want
		}
	}
	var old uint64
	p := unsafe.Pointer(&b[0])
	if uintptr(p)%uintptr(n) != 0 {
		atomicMu.Lock()
		old = loadLE(b, n)
		if nv, ok := apply(old); ok {
			storeLE(b, n, nv)
		}
		atomicMu.Unlock()
	} else if n == 4 {
		p32 := (*uint32)(p)
		for {
			o32 := atomic.LoadUint32(p32)
			nv, ok := apply(uint64(o32))
			if !ok || atomic.CompareAndSwapUint32(p32, o32, uint32(nv)) {
				old = uint64(o32)
				break
			}
		}
	} else {
		p64 := (*uint64)(p)
		for {
			o64 := atomic.LoadUint64(p64)
			nv, ok := apply(o64)
			if !ok || atomic.CompareAndSwapUint64(p64, o64, nv) {
				old = o64
				break
			}
		}
	}
	switch {
	case kindOp == atomicCmpXchg:
		regs[0] = old
	case kindOp&atomicFetch != 0:
		regs[o.src] = old
	}
	return nil
}
