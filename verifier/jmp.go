package verifier

import (
	"github.com/skmsg/skmsg/internal/errno"
	"math"
	"syscall"
)

// checkJmp handles the BPF_JMP and BPF_JMP32 classes.
func (v *verifier) checkJmp(pc int, in *insn) error {
	op := in.op()
	jmp32 := in.class() == clsJMP32
	switch op {
	case jmpJA:
		off := int(in.off)
		if jmp32 {
			if in.off != 0 || in.src != 0 || in.dst != 0 || in.srcBit() != srcK {
				return v.fail(errno.EINVAL, pc, "BPF_JA uses reserved fields")
			}
			off = int(in.imm)
		} else if in.imm != 0 || in.src != 0 || in.dst != 0 || in.srcBit() != srcK {
			return v.fail(errno.EINVAL, pc, "BPF_JA uses reserved fields")
		}
		v.jmps++
		v.cur.insn = pc + off + 1
		return nil
	case jmpCALL:
		if jmp32 || in.srcBit() != srcK || in.off != 0 || in.dst != 0 || (in.src != 0 && in.src != pseudoCall && in.src != pseudoKfuncCall) {
			return v.fail(errno.EINVAL, pc, "BPF_CALL uses reserved fields")
		}
		v.jmps++
		if in.src == pseudoCall {
			return v.checkSubprogCall(pc, in)
		}
		return v.checkHelperCall(pc, in)
	case jmpEXIT:
		// The kernel does not look at the offset of an exit.
		if jmp32 || in.srcBit() != srcK || in.imm != 0 || in.src != 0 || in.dst != 0 {
			return v.fail(errno.EINVAL, pc, "BPF_EXIT uses reserved fields")
		}
		v.jmps++
		return v.checkExit(pc)
	case jmpJEQ, jmpJGT, jmpJGE, jmpJSET, jmpJNE, jmpJSGT, jmpJSGE, jmpJLT, jmpJLE, jmpJSLT, jmpJSLE:
	default:
		return v.fail(errno.EINVAL, pc, "invalid BPF_JMP/JMP32 opcode %x", op)
	}
	v.jmps++
	return v.checkCondJmp(pc, in)
}

func flipOp(op uint8) uint8 {
	switch op {
	case jmpJGT:
		return jmpJLT
	case jmpJLT:
		return jmpJGT
	case jmpJGE:
		return jmpJLE
	case jmpJLE:
		return jmpJGE
	case jmpJSGT:
		return jmpJSLT
	case jmpJSLT:
		return jmpJSGT
	case jmpJSGE:
		return jmpJSLE
	case jmpJSLE:
		return jmpJSGE
	}
	return op
}

// jsetRev marks the false branch of JSET (rev_opcode's BPF_JSET | BPF_X).
const jsetRev = jmpJSET | srcX

func revOp(op uint8) uint8 {
	switch op {
	case jmpJEQ:
		return jmpJNE
	case jmpJNE:
		return jmpJEQ
	case jmpJSET:
		return jsetRev
	case jsetRev:
		return jmpJSET
	case jmpJGT:
		return jmpJLE
	case jmpJLE:
		return jmpJGT
	case jmpJGE:
		return jmpJLT
	case jmpJLT:
		return jmpJGE
	case jmpJSGT:
		return jmpJSLE
	case jmpJSLE:
		return jmpJSGT
	case jmpJSGE:
		return jmpJSLT
	case jmpJSLT:
		return jmpJSGE
	}
	return op
}

func (r *regState) isConstW(jmp32 bool) bool {
	if jmp32 {
		return r.varOff.subreg().isConst()
	}
	return r.varOff.isConst()
}

func (r *regState) constW(jmp32 bool) uint64 {
	if jmp32 {
		return uint64(uint32(r.varOff.value))
	}
	return r.varOff.value
}

func regNotNull(r *regState) bool {
	if r.maybeNull {
		return false
	}
	switch r.typ {
	case ptrToSocket, ptrToTCPSock, ptrToMapValue, ptrToMapKey, ptrToSockCommon, ptrToMem:
		return true
	}
	return false
}

// branchTaken is is_branch_taken: 1 taken, 0 not taken, -1 unknown.
func branchTaken(r1, r2 *regState, op uint8, jmp32 bool) int {
	if r1.isPointer() || r2.isPointer() {
		if (r1.isPointer() && r2.isPointer()) || jmp32 {
			// The low 32 bits of a valid pointer may be zero.
			return -1
		}
		if !r2.isConstW(jmp32) {
			op = flipOp(op)
			r1, r2 = r2, r1
		}
		if !r2.isConstW(jmp32) || !regNotNull(r1) || r2.constW(jmp32) != 0 {
			return -1
		}
		switch op {
		case jmpJEQ:
			return 0
		case jmpJNE:
			return 1
		}
		return -1
	}
	t1, t2 := r1.varOff, r2.varOff
	umin1, umax1, umin2, umax2 := r1.umin, r1.umax, r2.umin, r2.umax
	smin1, smax1, smin2, smax2 := r1.smin, r1.smax, r2.smin, r2.smax
	if jmp32 {
		t1, t2 = t1.subreg(), t2.subreg()
		umin1, umax1, umin2, umax2 = uint64(r1.u32min), uint64(r1.u32max), uint64(r2.u32min), uint64(r2.u32max)
		smin1, smax1, smin2, smax2 = int64(r1.s32min), int64(r1.s32max), int64(r2.s32min), int64(r2.s32max)
	}
	switch op {
	case jmpJEQ, jmpJNE:
		eq := op == jmpJEQ
		b := func(x bool) int {
			if x == eq {
				return 1
			}
			return 0
		}
		if t1.isConst() && t2.isConst() {
			return b(t1.value == t2.value)
		}
		if umin1 > umax2 || umax1 < umin2 || smin1 > smax2 || smax1 < smin2 {
			return b(false)
		}
		if !jmp32 {
			if r1.u32min > r2.u32max || r1.u32max < r2.u32min || r1.s32min > r2.s32max || r1.s32max < r2.s32min {
				return b(false)
			}
		}
	case jmpJSET:
		if !r2.isConstW(jmp32) {
			r1, r2 = r2, r1
			t1, t2 = t2, t1
		}
		if !r2.isConstW(jmp32) {
			return -1
		}
		if (^t1.mask&t1.value)&t2.value != 0 {
			return 1
		}
		if (t1.mask|t1.value)&t2.value == 0 {
			return 0
		}
	case jmpJGT:
		if umin1 > umax2 {
			return 1
		} else if umax1 <= umin2 {
			return 0
		}
	case jmpJSGT:
		if smin1 > smax2 {
			return 1
		} else if smax1 <= smin2 {
			return 0
		}
	case jmpJLT:
		if umax1 < umin2 {
			return 1
		} else if umin1 >= umax2 {
			return 0
		}
	case jmpJSLT:
		if smax1 < smin2 {
			return 1
		} else if smin1 >= smax2 {
			return 0
		}
	case jmpJGE:
		if umin1 >= umax2 {
			return 1
		} else if umax1 < umin2 {
			return 0
		}
	case jmpJSGE:
		if smin1 >= smax2 {
			return 1
		} else if smax1 < smin2 {
			return 0
		}
	case jmpJLE:
		if umax1 <= umin2 {
			return 1
		} else if umin1 > umax2 {
			return 0
		}
	case jmpJSLE:
		if smax1 <= smin2 {
			return 1
		} else if smin1 > smax2 {
			return 0
		}
	}
	return -1
}

// pktBranchTaken is is_pkt_ptr_branch_taken: a packet pointer known to
// be past the end (or at it) decides comparisons with the end.
func pktBranchTaken(dst, src *regState, op uint8) int {
	var pkt *regState
	switch {
	case src.typ == ptrToPacketEnd:
		pkt = dst
	case dst.typ == ptrToPacketEnd:
		pkt = src
		op = flipOp(op)
	default:
		return -1
	}
	if pkt.rng >= 0 {
		return -1
	}
	b := func(x bool) int {
		if x {
			return 1
		}
		return 0
	}
	switch op {
	case jmpJLE, jmpJGT:
		if pkt.rng == pktBeyondEnd {
			return b(op == jmpJGT)
		}
	case jmpJLT, jmpJGE:
		if pkt.rng == pktBeyondEnd || pkt.rng == pktAtEnd {
			return b(op == jmpJGE)
		}
	}
	return -1
}

// refineCond is regs_refine_cond_op.
func refineCond(r1, r2 *regState, op uint8, jmp32 bool) {
	switch op {
	case jmpJGE, jmpJGT, jmpJSGE, jmpJSGT:
		op = flipOp(op)
		r1, r2 = r2, r1
	}
	switch op {
	case jmpJEQ:
		if jmp32 {
			r1.u32min = max(r1.u32min, r2.u32min)
			r1.u32max = min(r1.u32max, r2.u32max)
			r1.s32min = max(r1.s32min, r2.s32min)
			r1.s32max = min(r1.s32max, r2.s32max)
			r2.u32min, r2.u32max, r2.s32min, r2.s32max = r1.u32min, r1.u32max, r1.s32min, r1.s32max
			t := r1.varOff.subreg().intersect(r2.varOff.subreg())
			r1.varOff = r1.varOff.withSubreg(t)
			r2.varOff = r2.varOff.withSubreg(t)
		} else {
			r1.umin = max(r1.umin, r2.umin)
			r1.umax = min(r1.umax, r2.umax)
			r1.smin = max(r1.smin, r2.smin)
			r1.smax = min(r1.smax, r2.smax)
			r2.umin, r2.umax, r2.smin, r2.smax = r1.umin, r1.umax, r1.smin, r1.smax
			r1.varOff = r1.varOff.intersect(r2.varOff)
			r2.varOff = r1.varOff
		}
	case jmpJNE:
		if !r2.isConstW(jmp32) {
			r1, r2 = r2, r1
		}
		if !r2.isConstW(jmp32) {
			return
		}
		val := r2.constW(jmp32)
		if jmp32 {
			if r1.u32min == uint32(val) {
				r1.u32min++
			}
			if r1.u32max == uint32(val) {
				r1.u32max--
			}
			if r1.s32min == int32(val) {
				r1.s32min++
			}
			if r1.s32max == int32(val) {
				r1.s32max--
			}
		} else {
			if r1.umin == val {
				r1.umin++
			}
			if r1.umax == val {
				r1.umax--
			}
			if r1.smin == int64(val) {
				r1.smin++
			}
			if r1.smax == int64(val) {
				r1.smax--
			}
		}
	case jmpJSET:
		if !r2.isConstW(jmp32) {
			r1, r2 = r2, r1
		}
		if !r2.isConstW(jmp32) {
			return
		}
		val := r2.constW(jmp32)
		if val == 0 || val&(val-1) != 0 {
			return
		}
		if jmp32 {
			r1.varOff = r1.varOff.withSubreg(r1.varOff.subreg().or(tnumConst(val)))
		} else {
			r1.varOff = r1.varOff.or(tnumConst(val))
		}
	case jsetRev:
		if !r2.isConstW(jmp32) {
			r1, r2 = r2, r1
		}
		if !r2.isConstW(jmp32) {
			return
		}
		val := r2.constW(jmp32)
		r1.markUnbounded()
		if jmp32 {
			r1.varOff = r1.varOff.withSubreg(r1.varOff.subreg().and(tnumConst(^val)))
		} else {
			r1.varOff = r1.varOff.and(tnumConst(^val))
		}
	case jmpJLE:
		if jmp32 {
			r1.u32max = min(r1.u32max, r2.u32max)
			r2.u32min = max(r1.u32min, r2.u32min)
		} else {
			r1.umax = min(r1.umax, r2.umax)
			r2.umin = max(r1.umin, r2.umin)
		}
	case jmpJLT:
		if jmp32 {
			r1.u32max = min(r1.u32max, r2.u32max-1)
			r2.u32min = max(r1.u32min+1, r2.u32min)
		} else {
			r1.umax = min(r1.umax, r2.umax-1)
			r2.umin = max(r1.umin+1, r2.umin)
		}
	case jmpJSLE:
		if jmp32 {
			r1.s32max = min(r1.s32max, r2.s32max)
			r2.s32min = max(r1.s32min, r2.s32min)
		} else {
			r1.smax = min(r1.smax, r2.smax)
			r2.smin = max(r1.smin, r2.smin)
		}
	case jmpJSLT:
		if jmp32 {
			r1.s32max = min(r1.s32max, r2.s32max-1)
			r2.s32min = max(r1.s32min+1, r2.s32min)
		} else {
			r1.smax = min(r1.smax, r2.smax-1)
			r2.smin = max(r1.smin+1, r2.smin)
		}
	}
}

// checkCondJmp is check_cond_jmp_op.
func (v *verifier) checkCondJmp(pc int, in *insn) error {
	op := in.op()
	jmp32 := in.class() == clsJMP32
	if in.srcBit() == srcX {
		if in.imm != 0 {
			return v.fail(errno.EINVAL, pc, "BPF_JMP/JMP32 uses reserved fields")
		}
		if err := v.checkRegRead(pc, in.src); err != nil {
			return err
		}
	} else if in.src != 0 {
		return v.fail(errno.EINVAL, pc, "BPF_JMP/JMP32 uses reserved fields")
	}
	if err := v.checkRegRead(pc, in.dst); err != nil {
		return err
	}
	regs := v.regs()
	var fake regState
	src := &fake
	if in.srcBit() == srcX {
		src = &regs[in.src]
	} else {
		fake.markConst(uint64(int64(in.imm)))
	}
	dst := &regs[in.dst]
	target := pc + int(in.off) + 1
	var pred int
	if (dst.isPkt() || dst.typ == ptrToPacketEnd) && (src.isPkt() || src.typ == ptrToPacketEnd) && !jmp32 {
		pred = pktBranchTaken(dst, src, op)
	} else {
		pred = branchTaken(dst, src, op, jmp32)
	}
	if pred == 1 {
		v.cur.insn = target
		return nil
	}
	if pred == 0 {
		v.cur.insn = pc + 1
		return nil
	}
	other := v.cur.clone()
	oregs := &other.cur().regs
	odst := &oregs[in.dst]
	osrc := &fake
	var fake2 regState
	if in.srcBit() == srcX {
		osrc = &oregs[in.src]
	} else {
		fake2 = fake
		osrc = &fake2
	}
	if dst.typ == scalarValue && src.typ == scalarValue {
		// other (taken) gets op, current (fall through) gets !op.
		refineCond(odst, osrc, op, jmp32)
		odst.boundsSync()
		osrc.boundsSync()
		refineCond(dst, src, revOp(op), jmp32)
		dst.boundsSync()
		src.boundsSync()
		deadTaken := !odst.boundsSane() || !osrc.boundsSane()
		deadFall := !dst.boundsSane() || !src.boundsSane()
		if in.srcBit() == srcX {
			syncLinked(other, osrc)
			syncLinked(v.cur, src)
		}
		syncLinked(other, odst)
		syncLinked(v.cur, dst)
		if deadTaken && deadFall {
			v.finishPath()
			return nil
		}
		if deadTaken {
			v.cur.insn = pc + 1
			return nil
		}
		if deadFall {
			v.cur = nil
			other.insn = target
			v.cur = other
			return nil
		}
	} else if (op == jmpJEQ || op == jmpJNE) && !jmp32 {
		// NULL checks mark every copy of a nullable pointer.
		// Only a comparison with the immediate 0 is a NULL check, not
		// one with a register holding 0.
		var ptrReg uint8 = 255
		if dst.maybeNull && in.srcBit() == srcK && in.imm == 0 {
			ptrReg = in.dst
		}
		if ptrReg != 255 {
			id := regs[ptrReg].id
			ref := regs[ptrReg].refObjID
			isNullTaken := op == jmpJEQ
			v.markPtrOrNull(other, id, ref, isNullTaken)
			v.markPtrOrNull(v.cur, id, ref, !isNullTaken)
		}
	} else if !jmp32 {
		v.matchPktPointers(other, in, op)
	}
	if err := v.pushBranch(other, target); err != nil {
		return err
	}
	v.cur.insn = pc + 1
	return nil
}

// syncLinked copies a refined scalar to every register sharing its id
// (sync_linked_regs).
func syncLinked(st *vstate, r *regState) {
	if r.typ != scalarValue || r.id == 0 {
		return
	}
	src := *r
	st.forEachReg(func(o *regState) {
		if o != r && o.typ == scalarValue && o.id == src.id {
			*o = src
		}
	})
}

// markPtrOrNull is mark_ptr_or_null_regs: on the NULL side the pointers
// become the scalar 0 (and an acquired reference is dropped), on the
// other they lose their _or_null.
func (v *verifier) markPtrOrNull(st *vstate, id, ref uint32, isNull bool) {
	if id == 0 {
		return
	}
	st.forEachReg(func(r *regState) {
		if !r.maybeNull || r.id != id {
			return
		}
		if isNull {
			r.markConst(0)
			return
		}
		r.maybeNull = false
		if r.typ == ptrToMapValue && r.m != nil && r.m.InnerMap != nil && (r.m.Type == 12 || r.m.Type == 13) {
			inner := r.m.InnerMap
			r.typ = constPtrToMap
			r.m = inner
		} else if r.typ == ptrToMapValue && r.m != nil && (r.m.Type == mapSockMap || r.m.Type == mapSockHash) {
			r.typ = ptrToSocket
			r.m = nil
		}
		if r.refObjID == 0 && r.typ != ptrToSocket && r.typ != ptrToSockCommon && r.typ != ptrToTCPSock && r.typ != ptrToMem {
			r.id = 0
		}
	})
	if isNull && ref != 0 {
		v.releaseRef(st, ref)
	}
}

func (v *verifier) releaseRef(st *vstate, ref uint32) bool {
	for i, r := range st.refs {
		if r.id == ref {
			st.refs = append(st.refs[:i:i], st.refs[i+1:]...)
			return true
		}
	}
	return false
}

// matchPktPointers is try_match_pkt_pointers: a comparison of a packet
// pointer with the packet end proves a range.
func (v *verifier) matchPktPointers(other *vstate, in *insn, op uint8) {
	if in.srcBit() != srcX {
		return
	}
	regs := v.regs()
	dst, src := &regs[in.dst], &regs[in.src]
	isData := func(r *regState) bool { return r.typ == ptrToPacket }
	pktLeft := (isData(dst) && src.typ == ptrToPacketEnd) || (dst.typ == ptrToPacketMeta && isData(src) && src.off == 0 && src.varOff.equalsConst(0))
	pktRight := (dst.typ == ptrToPacketEnd && isData(src)) || (isData(dst) && dst.off == 0 && dst.varOff.equalsConst(0) && src.typ == ptrToPacketMeta)
	oregs := &other.cur().regs
	// mark marks the pointer register r of a branch as known to be past
	// the end (beyond) or at it (mark_pkt_end).
	mark := func(regs *[11]regState, r uint8, beyond bool) {
		if regs[r].typ != ptrToPacket {
			return
		}
		if beyond {
			regs[r].rng = pktBeyondEnd
		} else {
			regs[r].rng = pktAtEnd
		}
	}
	cregs := v.regs()
	switch op {
	case jmpJGT:
		if pktLeft {
			findGoodPkt(v.cur, dst, false)
			mark(oregs, in.dst, true)
		} else if pktRight {
			findGoodPkt(other, src, true)
			mark(cregs, in.src, false)
		}
	case jmpJLT:
		if pktLeft {
			findGoodPkt(other, dst, true)
			mark(cregs, in.dst, false)
		} else if pktRight {
			findGoodPkt(v.cur, src, false)
			mark(oregs, in.src, true)
		}
	case jmpJGE:
		if pktLeft {
			findGoodPkt(v.cur, dst, true)
			mark(oregs, in.dst, false)
		} else if pktRight {
			findGoodPkt(other, src, false)
			mark(cregs, in.src, true)
		}
	case jmpJLE:
		if pktLeft {
			findGoodPkt(other, dst, false)
			mark(cregs, in.dst, true)
		} else if pktRight {
			findGoodPkt(v.cur, src, true)
			mark(oregs, in.src, false)
		}
	}
}

// findGoodPkt is find_good_pkt_pointers.
func findGoodPkt(st *vstate, reg *regState, openRight bool) {
	if reg.umax > 0xffff || int64(reg.umax)+int64(reg.off) > 0xffff || reg.off < 0 {
		return
	}
	rng := reg.off
	if openRight {
		rng++
	}
	typ, id := reg.typ, reg.id
	st.forEachReg(func(r *regState) {
		if r.typ == typ && r.id == id && r.rng < rng {
			r.rng = rng
		}
	})
}

// checkExit handles BPF_EXIT: the return of a subprogram or callback, or
// the end of the program (check_return_code, check_reference_leak).
func (v *verifier) checkExit(pc int) error {
	st := v.cur
	if len(st.frames) > 1 {
		return v.returnFromFrame(pc)
	}
	if len(st.refs) > 0 {
		for _, r := range st.refs {
			v.logf("Unreleased reference id=%d alloc_insn=%d\n", r.id, r.insnIdx)
		}
		return v.fail(errno.EINVAL, pc, "BPF_EXIT instruction in main prog would lead to reference leak")
	}
	if g := v.curGlobal; g != nil {
		if g.void {
			v.finishPath()
			return nil
		}
		if err := v.checkRegRead(pc, 0); err != nil {
			return err
		}
		if r0 := &v.regs()[0]; r0.typ != scalarValue {
			return v.fail(errno.EINVAL, pc, "At subprogram exit the register R0 is not a scalar value (%s)", r0.typeName())
		}
		v.finishPath()
		return nil
	}
	if err := v.checkRegRead(pc, 0); err != nil {
		return err
	}
	r0 := &v.regs()[0]
	if v.pt.retRange != nil {
		rng := v.pt.retRange
		if r0.typ != scalarValue {
			return v.fail(errno.EINVAL, pc, "At program exit the register R0 is not a known value (%s)", r0.typeName())
		}
		if r0.smin < rng[0] || r0.smax > rng[1] {
			msg := "At program exit the register R0 has"
			unknown := true
			if r0.smin > math.MinInt64 {
				msg += sprintf(" smin=%d", r0.smin)
				unknown = false
			}
			if r0.smax < math.MaxInt64 {
				msg += sprintf(" smax=%d", r0.smax)
				unknown = false
			}
			if unknown {
				msg += " unknown scalar value"
			}
			msg += sprintf(" should have been in [%d, %d]", rng[0], rng[1])
			return v.fail(errno.EINVAL, pc, "%s", msg)
		}
	}
	v.finishPath()
	return nil
}

// refuseKeepLog records a refusal whose lines are already in the log.
func (v *verifier) refuseKeepLog(errno syscall.Errno, pc int, reason string) error {
	if v.errno == 0 {
		v.errno = errno
		v.errPC = pc
		v.reason = reason
	}
	return errRefused
}
