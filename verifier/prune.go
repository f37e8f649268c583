package verifier

import "github.com/skmsg/skmsg/internal/errno"

// isStateVisited is is_state_visited: compare the current state with the
// checkpoints at this instruction; prune when a finished one includes it,
// report an infinite loop when an unfinished one equals it, and maybe add
// a checkpoint.
func (v *verifier) isStateVisited(pc int) (bool, error) {
	cur := v.cur
	list := v.explored[pc]
	addNew := v.jmps-v.prevJmps >= 2 && v.processed-v.prevInsns >= 8
	kept := list[:0]
	pruned := false
	for i, c := range list {
		if pruned {
			kept = append(kept, list[i:]...)
			break
		}
		if c.branches > 0 {
			// A state still being explored: a loop.
			if v.statesExact(c.st, cur) {
				return false, v.fail(errno.EINVAL, pc, "infinite loop detected at insn %d", pc)
			}
			if v.jmps-v.prevJmps < 20 && v.processed-v.prevInsns < 100 {
				addNew = false
			}
		} else if v.statesEqual(c.st, cur) {
			c.hit++
			pruned = true
			kept = append(kept, c)
			continue
		}
		c.miss++
		// A state that keeps missing is unlikely to help: stop looking at
		// it (the kernel's miss_cnt heuristic).
		if c.miss > c.hit*3+3 {
			continue
		}
		kept = append(kept, c)
	}
	v.explored[pc] = kept
	list = kept
	if pruned {
		return true, nil
	}
	if !addNew {
		return false, nil
	}
	v.prevJmps, v.prevInsns = v.jmps, v.processed
	snap := cur.clone()
	snap.insn = pc
	c := &checkpoint{st: snap, branches: 1, parent: cur.parent, insn: pc}
	cur.parent = c
	v.explored[pc] = append(list, c)
	v.total++
	v.live++
	v.peak = max(v.peak, v.total)
	return false, nil
}

// liveMask is the set of registers of frame i of st that a path may
// still read (compute_live_registers); a finished checkpoint ignores the
// others (clean_live_states).
func (v *verifier) liveMask(st *vstate, i, pc int) uint16 {
	at := pc
	if i+1 < len(st.frames) {
		at = st.frames[i+1].callsite + 1
	}
	if at < 0 || at >= len(v.liveIn) {
		return 0xffff
	}
	return v.liveIn[at]
}

// idMap checks that ids correspond one to one (check_ids).
type idMap map[uint32]uint32

func (m idMap) check(old, cur uint32) bool {
	if old == 0 && cur == 0 {
		return true
	}
	if old == 0 || cur == 0 {
		return false
	}
	if c, ok := m[old]; ok {
		return c == cur
	}
	for _, c := range m {
		if c == cur {
			return false
		}
	}
	m[old] = cur
	return true
}

func (v *verifier) statesEqual(old, cur *vstate) bool {
	return v.statesCompare(old, cur, false)
}

func (v *verifier) statesExact(old, cur *vstate) bool {
	return v.statesCompare(old, cur, true)
}

func (v *verifier) statesCompare(old, cur *vstate, exact bool) bool {
	if len(old.frames) != len(cur.frames) || len(old.refs) != len(cur.refs) {
		return false
	}
	ids := idMap{}
	for i := range old.refs {
		if !ids.check(old.refs[i].id, cur.refs[i].id) {
			return false
		}
	}
	for i := range old.frames {
		fo, fc := old.frames[i], cur.frames[i]
		if fo.callsite != fc.callsite {
			return false
		}
		live := uint16(0xffff)
		if !exact {
			live = v.liveMask(old, i, old.insn)
		}
		for r := range fo.regs {
			if live&(1<<r) == 0 {
				continue
			}
			if !regSafe(&fo.regs[r], &fc.regs[r], ids, exact) {
				return false
			}
		}
		if !stackSafe(fo, fc, ids, exact) {
			return false
		}
	}
	return true
}

func rangeWithin(o, c *regState) bool {
	return o.umin <= c.umin && o.umax >= c.umax && o.smin <= c.smin && o.smax >= c.smax &&
		o.u32min <= c.u32min && o.u32max >= c.u32max && o.s32min <= c.s32min && o.s32max >= c.s32max
}

// regSafe is regsafe: is every value cur may hold one old allowed?
func regSafe(o, c *regState, ids idMap, exact bool) bool {
	if exact {
		if o.typ == notInit && c.typ == notInit {
			return true
		}
		if o.typ != c.typ || o.maybeNull != c.maybeNull || o.off != c.off || o.varOff != c.varOff ||
			!rangeWithin(o, c) || !rangeWithin(c, o) || o.rng != c.rng || o.m != c.m {
			return false
		}
		return ids.check(o.id, c.id) && ids.check(o.refObjID, c.refObjID)
	}
	if o.typ == notInit {
		return true
	}
	if c.typ == notInit || o.typ != c.typ || o.maybeNull != c.maybeNull {
		return false
	}
	switch o.typ {
	case scalarValue:
		if o.id != 0 && !ids.check(o.id, c.id) {
			return false
		}
		return rangeWithin(o, c) && o.varOff.in(c.varOff)
	case ptrToMapValue, ptrToMapKey, ptrToMem:
		return o.m == c.m && o.off == c.off && o.memSize == c.memSize && o.mem == c.mem && rangeWithin(o, c) &&
			o.varOff.in(c.varOff) && ids.check(o.id, c.id) && ids.check(o.refObjID, c.refObjID)
	case ptrToPacket, ptrToPacketMeta:
		if o.rng > c.rng || o.off != c.off || ((o.rng < 0 || c.rng < 0) && o.rng != c.rng) {
			return false
		}
		return ids.check(o.id, c.id) && rangeWithin(o, c) && o.varOff.in(c.varOff)
	case ptrToStack:
		return o.off == c.off && o.frameNo == c.frameNo && o.varOff == c.varOff && rangeWithin(o, c)
	case constPtrToMap:
		return o.m == c.m && o.off == c.off
	case ptrToFunc:
		return o.subprog == c.subprog
	}
	return o.off == c.off && o.varOff == c.varOff && ids.check(o.id, c.id) && ids.check(o.refObjID, c.refObjID)
}

// stackSafe is stacksafe: privileged, uninitialised and plain data in
// the old state accept anything.
func stackSafe(o, c *frame, ids idMap, exact bool) bool {
	for i := range o.stack {
		so := &o.stack[i]
		var sc *stackSlot
		if i < len(c.stack) {
			sc = &c.stack[i]
		}
		for b := 0; b < 8; b++ {
			ot := so.types[b]
			if !exact && (ot == stackInvalid || ot == stackMisc) {
				continue
			}
			ct := stackInvalid
			if sc != nil {
				ct = sc.types[b]
			}
			if exact && ot != ct {
				return false
			}
			if ot == stackInvalid {
				continue
			}
			if ot != ct {
				if ot == stackZero && sc != nil && sc.isSpilled() && sc.spilled.isNull() {
					continue
				}
				return false
			}
		}
		if so.isSpilled() {
			if sc == nil || !sc.isSpilled() {
				return false
			}
			if !regSafe(&so.spilled, &sc.spilled, ids, exact) {
				return false
			}
		}
	}
	if exact {
		for i := len(o.stack); i < len(c.stack); i++ {
			for b := 0; b < 8; b++ {
				if c.stack[i].types[b] != stackInvalid {
					return false
				}
			}
		}
	}
	return true
}
