package vm

import (
	"fmt"
	"slices"
)

// callFunc runs a callback in a new frame on top of the interrupted run.
//
// The frame it pushes returns to the opCallbackRet after the program's
// last instruction, which makes exec stop as if the entry function had
// exited; everything the nested exec may change in the
// Machine is saved here and put back, so that the exec that called the
// helper carries on as if the helper had not run code.
func (m *Machine) callFunc(fn uint64, args [5]uint64) (uint64, error) {
	mi := &m.impl
	st := &mi.st
	p := st.prog
	if mi.cur == nil || p == nil {
		return 0, fmt.Errorf("CallFunc outside a helper call: %w", ErrNotFunc)
	}
	t := fn & OffsetMask
	if fn>>RegionShift != uint64(FuncRegion) {
		return 0, fmt.Errorf("%#x: %w %s", fn, ErrNotFunc, p.Name)
	}
	if _, ok := slices.BinarySearch(p.impl.funcs, int32(t)); !ok || t > 1<<24 {
		return 0, fmt.Errorf("%#x (slot %d): %w %s", fn, t, ErrNotFunc, p.Name)
	}
	depth := st.depth
	if depth+1 >= MaxCallDepth {
		err := &RunError{Program: p.Name, PC: mi.pc, Err: ErrCallDepth}
		mi.cbErr = err
		return 0, err
	}

	var saved [NumRegs]uint64
	copy(saved[:], st.regs[:NumRegs])
	pc, cur, helperPC, tail := st.pc, mi.cur, mi.pc, mi.tail

	f := &mi.frames[depth]
	f.ret = p.impl.callbackRet()
	f.prog = p
	f.regs = [4]uint64{saved[6], saved[7], saved[8], saved[9]}
	mi.cbSite[depth] = helperPC
	st.depth = depth + 1
	st.pc = int(t)
	r := &st.regs
	r[0], r[1], r[2], r[3], r[4], r[5] = 0, args[0], args[1], args[2], args[3], args[4]
	r[10] = frameTop(depth + 1)
	mi.tail = nil

	var stop stopKind
	var err error
	if mi.stepped {
		// The traced loop counts an instruction once it has run: count
		// the helper call in flight now, for the callee's budget.
		mi.executed++
		stop, err = m.traceLoop(mi.runBudget)
		mi.executed--
	} else {
		left := mi.left
		var n uint64
		stop, n, err = m.exec(st, left)
		mi.left = left - n
		if stop == stopLimit && st.prog == p && st.pc == p.impl.callbackRet() {
			// The callee's exit was the last instruction the budget
			// allowed: it did return; the caller runs out next.
			stop, err = stopExit, nil
		} else if stop == stopLimit {
			err = &RunError{Program: st.prog.Name, PC: st.pc, Err: ErrBudget}
		}
	}
	ret := st.regs[0]
	stopped := mi.stopped

	copy(st.regs[:NumRegs], saved[:])
	st.pc, st.depth, st.prog = pc, depth, p
	mi.cur, mi.pc, mi.tail = cur, helperPC, tail
	mi.err, mi.exited, mi.stopped = nil, false, false

	switch {
	case stop == stopExit && stopped:
		return ret, ErrStop
	case stop == stopExit:
		return ret, nil
	}
	mi.cbErr = err
	return 0, err
}
