package verifier

import (
	"github.com/cilium/ebpf/asm"
	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/internal/helpers"
	"strings"

	"github.com/cilium/ebpf"
)

const maxCallFrames = 8

var (
	memTypesStr      = "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
	sockCommonStr    = "sock_common, sock, tcp_sock, xdp_sock"
	btfSockCommonStr = "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_"
)

func isMemType(r *regState) bool {
	switch r.typ {
	case ptrToStack, ptrToPacket, ptrToPacketMeta, ptrToMapKey, ptrToMapValue, ptrToMem:
		return true
	}
	return false
}

// checkHelperCall is check_helper_call.
func (v *verifier) checkHelperCall(pc int, in *insn) error {
	id := in.imm
	if id <= 0 || !helpers.Known(asm.BuiltinFunc(id)) {
		return v.fail(errno.EINVAL, pc, "invalid func %s#%d", helperName(id), id)
	}
	if !v.pt.allowed(id) {
		return v.fail(errno.EINVAL, pc, "program of this type cannot use helper %s#%d", helperName(id), id)
	}
	if hp, ok := helpers.Kernel().ByID[asm.BuiltinFunc(id)]; ok && hp.Sleepable {
		return v.fail(errno.EINVAL, pc, "helper call might sleep in a non-sleepable prog")
	}
	proto := helperProtos[id]
	if proto == nil {
		// Allowed but not modelled: arguments unchecked, result unknown.
		proto = hp(helpers.Name(asm.BuiltinFunc(id)), retInteger)
	}
	if proto.gpl && !isGPL(v.p.in.License) {
		return v.fail(errno.EINVAL, pc, "cannot call GPL-restricted function from non-GPL compatible program")
	}
	regs := v.regs()
	var meta struct {
		m        *Map
		refID    uint32
		relReg   int
		allocSz  int64
		cbTarget int
		relRegNo uint8
	}
	meta.relReg = -1
	for i, at := range proto.args {
		if at == argDontCare {
			break
		}
		regno := uint8(i + 1)
		if err := v.checkRegRead(pc, regno); err != nil {
			return err
		}
		r := &regs[regno]
		if r.isPkt() && at != argAnything && !helperPktAccess[id] {
			return v.fail(errno.EACCES, pc, "helper access to the packet is not allowed")
		}
		mismatch := func(expected string) error {
			return v.fail(errno.EACCES, pc, "R%d type=%s expected=%s", regno, r.typeName(), expected)
		}
		switch at {
		case argAnything:
		case argConstMapPtr:
			if r.typ != constPtrToMap || r.maybeNull {
				return mismatch("map_ptr")
			}
			meta.m = r.m
		case argMapKey, argMapValue, argUninitMapValue, argMapValueOrNull:
			if at == argMapValue && meta.m != nil && (meta.m.Type == mapSockMap || meta.m.Type == mapSockHash) {
				// resolve_map_arg_type: a socket is stored.
				switch r.typ {
				case ptrToSockCommon, ptrToSocket, ptrToTCPSock, ptrToBTFID:
					if !r.maybeNull {
						continue
					}
				}
				return mismatch(btfSockCommonStr)
			}
			if at == argMapValueOrNull && r.isNull() {
				break
			}
			if !isMemType(r) || (r.maybeNull && at != argMapValueOrNull) {
				return mismatch(memTypesStr)
			}
			if meta.m == nil {
				return v.fail(errno.EACCES, pc, "invalid map_ptr to access map->key")
			}
			size := meta.m.KeySize
			t := accRead
			if at != argMapKey {
				size = meta.m.ValueSize
			}
			if at == argUninitMapValue {
				t = accWrite
			}
			if err := v.checkHelperMem(pc, regno, int64(size), t, false); err != nil {
				return err
			}
		case argCtx, argCtxOrNull:
			if at == argCtxOrNull && r.isNull() {
				break
			}
			if r.typ != ptrToCtx {
				return mismatch("ctx")
			}
			if err := v.checkCtxPtrOff(pc, regno, r); err != nil {
				return err
			}
		case argMemRdonly, argMemRdonlyOrNull, argUninitMem, argUninitMemOrNull:
			nullable := at == argMemRdonlyOrNull || at == argUninitMemOrNull
			if nullable && r.isNull() {
				break
			}
			if !isMemType(r) || (r.maybeNull && !nullable) {
				return mismatch(memTypesStr)
			}
			if (at == argUninitMem || at == argUninitMemOrNull) && r.typ == ptrToMem && r.mem == memRdonly {
				return mismatch(memTypesStr)
			}
		case argConstSize, argConstSizeOrZero, argConstAllocSizeOrZero:
			if r.typ != scalarValue {
				return mismatch("scalar")
			}
			if at == argConstAllocSizeOrZero {
				if !r.varOff.isConst() {
					return v.fail(errno.EACCES, pc, "R%d is not a known constant'", regno)
				}
				meta.allocSz = int64(r.varOff.value)
				break
			}
			prev := &regs[regno-1]
			prevType := proto.args[i-1]
			zeroOK := at == argConstSizeOrZero
			if r.smin < 0 {
				return v.fail(errno.EACCES, pc, "R%d min value is negative, either use unsigned or 'var &= const'", regno)
			}
			if r.umin == 0 && !zeroOK {
				return v.fail(errno.EACCES, pc, "R%d invalid zero-sized read: u64=[%d,%d]", regno, r.umin, r.umax)
			}
			if r.umax >= maxVarOff {
				return v.fail(errno.EACCES, pc, "R%d unbounded memory access, use 'var &= const' or 'if (var < const)'", regno)
			}
			if (prevType == argMemRdonlyOrNull || prevType == argUninitMemOrNull) && prev.isNull() {
				break
			}
			t := accRead
			if prevType == argUninitMem || prevType == argUninitMemOrNull {
				t = accWrite
			}
			if err := v.checkHelperMem(pc, regno-1, int64(r.umax), t, zeroOK); err != nil {
				return err
			}
		case argSockCommon:
			switch r.typ {
			case ptrToSockCommon, ptrToSocket, ptrToTCPSock:
				if !r.maybeNull {
					break
				}
				return mismatch(sockCommonStr)
			default:
				return mismatch(sockCommonStr)
			}
		case argBTFIDSockCommon, argSockRelease:
			switch r.typ {
			case ptrToSockCommon, ptrToSocket, ptrToTCPSock, ptrToBTFID:
				if r.maybeNull {
					return mismatch(btfSockCommonStr)
				}
			default:
				return mismatch(btfSockCommonStr)
			}
			if at == argSockRelease {
				if r.refObjID == 0 {
					return v.fail(errno.EINVAL, pc, "R%d must be referenced when passed to release function", regno)
				}
				meta.refID = r.refObjID
			}
		case argSocket:
			if r.typ != ptrToSocket || r.maybeNull {
				return mismatch("sock")
			}
		case argRingbufMemRelease:
			if r.typ != ptrToMem || r.mem != memRingbuf || r.maybeNull {
				return mismatch("ringbuf_mem")
			}
			if r.off != 0 || !r.varOff.equalsConst(0) {
				return v.fail(errno.EINVAL, pc, "R%d must have zero offset when passed to release func or trusted arg to kfunc", regno)
			}
			if r.refObjID == 0 {
				return v.fail(errno.EINVAL, pc, "R%d must be referenced when passed to release function", regno)
			}
			meta.refID = r.refObjID
		case argFunc:
			if r.typ != ptrToFunc {
				return mismatch("func")
			}
			meta.cbTarget = int(r.subprog)
		case argStackOrNull:
			if r.isNull() {
				break
			}
			if r.typ != ptrToStack {
				return mismatch("fp")
			}
		case argConstStr:
			if r.typ != ptrToMapValue || r.maybeNull {
				return mismatch("map_value")
			}
			if r.m.Flags&flagRdonlyProg == 0 || r.m.Frozen == nil {
				return v.fail(errno.EACCES, pc, "R%d does not point to a readonly map'", regno)
			}
			if !r.varOff.isConst() {
				return v.fail(errno.EACCES, pc, "R%d is not a constant address'", regno)
			}
			off := int(r.off) + int(r.varOff.value)
			if strings.IndexByte(string(r.m.Frozen[min(off, len(r.m.Frozen)):]), 0) < 0 {
				return v.fail(errno.EACCES, pc, "string is not zero-terminated")
			}
		case argBTFPtr:
			if r.typ != ptrToBTFID || r.maybeNull {
				return mismatch("ptr_, trusted_ptr_, rcu_ptr_")
			}
		case argPercpuBTF:
			if r.typ != ptrToBTFID || r.maybeNull {
				return mismatch("percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_")
			}
		case argSpinLock:
			if (r.typ != ptrToMapValue && r.typ != ptrToBTFID) || r.maybeNull {
				return mismatch("map_value, ptr_")
			}
		case argTimer:
			if r.typ != ptrToMapValue || r.maybeNull {
				return mismatch("map_value")
			}
		case argDynptr:
			if r.typ != ptrToStack {
				return mismatch("fp, dynptr_ptr")
			}
		case argLong:
			if !isMemType(r) || r.maybeNull {
				return mismatch(memTypesStr)
			}
			if err := v.checkHelperMem(pc, regno, 8, accWrite, false); err != nil {
				return err
			}
		}
	}
	if id == 81 && !(regs[2].isNull()) {
		return v.fail(errno.EINVAL, pc, "get_local_storage() doesn't support non-zero flags")
	}
	if err := v.checkMapCompat(pc, id, meta.m); err != nil {
		return err
	}
	if id == 12 && len(v.cur.refs) > 0 {
		return v.fail(errno.EINVAL, pc, "tail_call would lead to reference leak")
	}
	// Release before the clobber.
	if meta.refID != 0 {
		ref := meta.refID
		if !v.releaseRef(v.cur, ref) {
			return v.fail(errno.EINVAL, pc, "reference has not been acquired before")
		}
		v.cur.forEachReg(func(r *regState) {
			if r.refObjID == ref {
				r.markUnknownScalar()
			}
		})
	}
	if proto.cbArg >= 0 && !(id == 181 && regs[1].isNull()) {
		// bpf_loop with a count known to be 0 never calls back: the
		// kernel does not look at the callback then.
		return v.callCallback(pc, id, proto, meta.cbTarget)
	}
	constKey := int64(-1)
	if id == 1 && meta.m != nil {
		constKey = v.constMapKey(&regs[2], meta.m.KeySize)
	}
	for i := 1; i <= 5; i++ {
		regs[i].markNotInit()
	}
	r0 := &regs[0]
	switch proto.ret {
	case retInteger:
		r0.markUnknownScalar()
	case retVoid:
		r0.markNotInit()
	case retMapValueOrNull:
		r0.markPtr(ptrToMapValue)
		r0.m = meta.m
		r0.maybeNull = true
		r0.id = v.newID()
		if id == 1 && (meta.m.Type == mapSockMap || meta.m.Type == mapSockHash) {
			// A socket from a sockmap is a reference (is_acquire_function).
			r0.refObjID = r0.id
			v.cur.refs = append(v.cur.refs, refState{id: r0.id, insnIdx: pc})
		}
		if constKey >= 0 && (meta.m.Type == ebpf.Array || meta.m.Type == ebpf.PerCPUArray) && constKey < int64(meta.m.MaxEntries) {
			// An array lookup with a constant key in range cannot fail.
			r0.maybeNull = false
			r0.id = 0
		}
	case retSocketOrNullAcquire, retSockCommonOrNullAcquire, retRingbufMemOrNull:
		t := ptrToSocket
		if proto.ret == retSockCommonOrNullAcquire {
			t = ptrToSockCommon
		}
		if proto.ret == retRingbufMemOrNull {
			t = ptrToMem
		}
		r0.markPtr(t)
		r0.maybeNull = true
		if t == ptrToMem {
			r0.mem = memRingbuf
			r0.memSize = uint32(meta.allocSz)
		}
		r0.id = v.newID()
		r0.refObjID = r0.id
		v.cur.refs = append(v.cur.refs, refState{id: r0.id, insnIdx: pc})
	case retSocketOrNull, retTCPSockOrNull:
		ref := regs[1].refObjID
		t := ptrToSocket
		if proto.ret == retTCPSockOrNull {
			t = ptrToTCPSock
		}
		r0.markPtr(t)
		r0.maybeNull = true
		r0.id = v.newID()
		r0.refObjID = ref
	case retBTFID:
		r0.markPtr(ptrToBTFID)
	case retBTFIDOrNull:
		r0.markPtr(ptrToBTFID)
		r0.maybeNull = true
		r0.id = v.newID()
	}
	if proto.pktData {
		v.invalidatePkt()
	}
	v.cur.insn = pc + 1
	return nil
}

// constMapKey is get_constant_map_key: the key a stack pointer points
// to when the stack holds a known constant there, -1 otherwise.
func (v *verifier) constMapKey(key *regState, keySize uint32) int64 {
	if key.typ != ptrToStack || !key.varOff.isConst() {
		return -1
	}
	off := int(key.off) + int(int64(key.varOff.value))
	if off >= 0 || off < -maxStack {
		return -1
	}
	f := v.cur.frames[key.frameNo]
	slot := -off - 1
	spi, idx := slot/8, slot%8
	if spi >= len(f.stack) {
		return -1
	}
	s := &f.stack[spi]
	zero := 0
	for i := idx; i >= 0 && s.types[i] == stackZero; i-- {
		zero++
	}
	if zero >= int(keySize) {
		return 0
	}
	if !s.isSpilled() || s.spilled.typ != scalarValue {
		return -1
	}
	spill := 0
	for i := idx; i >= 0 && s.types[i] == stackSpill; i-- {
		spill++
	}
	if spill != int(keySize) || !s.spilled.varOff.isConst() {
		return -1
	}
	return int64(s.spilled.varOff.value)
}

// invalidatePkt is clear_all_pkt_pointers: after a helper that may move
// the packet, packet pointers are unknown scalars (privileged).
func (v *verifier) invalidatePkt() {
	v.cur.forEachReg(func(r *regState) {
		if r.typ == ptrToPacket || r.typ == ptrToPacketMeta || r.typ == ptrToPacketEnd {
			r.markUnknownScalar()
		}
	})
}

func isGPL(l string) bool {
	switch l {
	case "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL":
		return true
	}
	return false
}

// checkHelperMem is check_helper_mem_access for the register regno.
func (v *verifier) checkHelperMem(pc int, regno uint8, size int64, t accessType, zeroOK bool) error {
	r := &v.regs()[regno]
	off := int(r.off)
	if size == 0 && !zeroOK && r.typ != scalarValue {
		return v.fail(errno.EACCES, pc, "invalid zero-sized read")
	}
	switch {
	case r.isPkt():
		if t == accWrite && !v.pt.pktWrite {
			return v.fail(errno.EACCES, pc, "cannot write into packet")
		}
		if size == 0 && zeroOK {
			return nil
		}
		return v.checkPacketAccess(pc, regno, r, off, int(size))
	case r.typ == ptrToMapKey:
		return v.checkMemRegion(pc, regno, off, int(size), r.m.KeySize, zeroOK)
	case r.typ == ptrToMapValue:
		if t == accWrite && r.m.Flags&flagRdonlyProg != 0 {
			return v.fail(errno.EACCES, pc, "write into map forbidden, value_size=%d off=%d size=%d", r.m.ValueSize, off, size)
		}
		return v.checkMemRegion(pc, regno, off, int(size), r.m.ValueSize, zeroOK)
	case r.typ == ptrToMem:
		return v.checkMemRegion(pc, regno, off, int(size), r.memSize, zeroOK)
	case r.typ == ptrToStack:
		if err := v.stackBounds(pc, regno, r, off, int(size), t); err != nil {
			return err
		}
		f := v.cur.frames[r.frameNo]
		lo, hi := int64(off)+int64(r.varOff.value), int64(off)+int64(r.varOff.value)+size
		if !r.varOff.isConst() {
			lo, hi = r.smin+int64(off), r.smax+int64(off)+size
		}
		v.noteStackDepth(f, int(lo))
		if t == accWrite {
			for a := lo; a < hi; a++ {
				s := f.slot(int(a))
				if s.isSpilled() {
					for i := range s.types {
						if s.types[i] == stackSpill {
							s.types[i] = stackMisc
						}
					}
					s.spilled = regState{}
				}
				s.types[(-a-1)%8] = stackMisc
			}
		}
		return nil
	}
	if zeroOK && size == 0 && r.isNull() {
		return nil
	}
	return v.fail(errno.EACCES, pc, "R%d type=%s expected=fp", regno, r.typeName())
}

// Map types (enum bpf_map_type).
const (
	mapProgArray      = ebpf.ProgramArray
	mapPerfEventArray = ebpf.PerfEventArray
	mapSockMap        = ebpf.SockMap
	mapSockHash       = ebpf.SockHash
	mapRingBuf        = ebpf.RingBuf
)

// checkMapCompat is check_map_func_compatibility.
func (v *verifier) checkMapCompat(pc int, id int32, m *Map) error {
	if m == nil {
		return nil
	}
	bad := func() error {
		return v.fail(errno.EINVAL, pc, "cannot pass map_type %d into func %s#%d", uint32(m.Type), helperName(id), id)
	}
	isUpdate := id == 2 || id == 3
	if id == 12 && m.Type != mapProgArray {
		return v.fail(errno.EINVAL, pc, "expected prog array map for tail call")
	}
	switch m.Type {
	case mapProgArray:
		if id != 12 {
			return bad()
		}
	case mapPerfEventArray:
		if id != 25 && id != 22 && id != 55 && id != 27 && id != 111 && id != 121 && id != 67 {
			return bad()
		}
	case mapRingBuf:
		if id != 130 && id != 131 && id != 134 && id != 198 && id != 199 && id != 200 {
			return bad()
		}
	case mapSockMap, mapSockHash:
		okIDs := map[int32]bool{1: true, 82: true}
		if m.Type == mapSockMap {
			okIDs[52], okIDs[53], okIDs[60] = true, true, true
		} else {
			okIDs[72], okIDs[70], okIDs[71] = true, true, true
		}
		if !okIDs[id] {
			if isUpdate && v.p.in.Type == ebpf.SockOps && id == 3 {
				break
			}
			if isUpdate {
				v.logf("cannot update sockmap in this context\n")
			}
			return bad()
		}
	case ebpf.Queue, ebpf.Stack:
		if id != 87 && id != 88 && id != 89 {
			return bad()
		}
	case ebpf.ArrayOfMaps, ebpf.HashOfMaps:
		if id != 1 {
			return bad()
		}
	case ebpf.SkStorage:
		if id != 107 && id != 108 {
			return bad()
		}
	}
	switch id {
	case 12:
		if m.Type != mapProgArray {
			return v.fail(errno.EINVAL, pc, "expected prog array map for tail call")
		}
	case 25:
		if m.Type != mapPerfEventArray {
			return bad()
		}
	case 130, 131, 134:
		if m.Type != mapRingBuf {
			return bad()
		}
	case 52, 53, 60:
		if m.Type != mapSockMap {
			return bad()
		}
	case 72, 70, 71:
		if m.Type != mapSockHash {
			return bad()
		}
	case 87, 88, 89:
		if m.Type != ebpf.Queue && m.Type != ebpf.Stack && m.Type != ebpf.BloomFilter {
			return bad()
		}
	case 195:
		if m.Type != ebpf.PerCPUArray && m.Type != ebpf.PerCPUHash && m.Type != ebpf.LRUCPUHash {
			return bad()
		}
	case 107, 108:
		if m.Type != ebpf.SkStorage {
			return bad()
		}
	}
	return nil
}

// checkSubprogCall is check_func_call for a bpf-to-bpf call: a new frame
// with R1-R5 from the caller.
func (v *verifier) checkSubprogCall(pc int, in *insn) error {
	st := v.cur
	if len(st.frames) >= maxCallFrames {
		return v.fail(errno.E2BIG, pc, "the call stack of %d frames is too deep", len(st.frames)+1)
	}
	target := pc + int(in.imm) + 1
	if g := v.globals[target]; g != nil {
		return v.callGlobal(pc, g)
	}
	caller := st.cur()
	callee := &frame{callsite: pc, subprog: target, frameNo: len(st.frames)}
	for i := range callee.regs {
		callee.regs[i].markNotInit()
	}
	for i := 1; i <= 5; i++ {
		callee.regs[i] = caller.regs[i]
	}
	callee.regs[10].markPtr(ptrToStack)
	callee.regs[10].frameNo = int8(callee.frameNo)
	for i := 0; i <= 5; i++ {
		caller.regs[i].markNotInit()
	}
	st.frames = append(st.frames, callee)
	v.noteCall(caller.subprog, target)
	st.insn = target
	return nil
}

func (v *verifier) noteCall(from, to int) {
	if v.seenCalls == nil {
		v.seenCalls = map[int][]int{}
	}
	for _, t := range v.seenCalls[from] {
		if t == to {
			return
		}
	}
	v.seenCalls[from] = append(v.seenCalls[from], to)
}

// callCallback verifies a helper's callback (bpf_loop,
// bpf_for_each_map_elem) once in a new frame, with the path that never
// calls it pushed as a branch; the helper's caller then continues with
// R0 unknown.
func (v *verifier) callCallback(pc int, id int32, proto *helperProto, target int) error {
	st := v.cur
	regs := &st.cur().regs
	// Path 1: the callback never runs.
	skip := st.clone()
	sregs := &skip.cur().regs
	for i := 1; i <= 5; i++ {
		sregs[i].markNotInit()
	}
	sregs[0].markUnknownScalar()
	if len(st.frames) >= maxCallFrames {
		return v.fail(errno.E2BIG, pc, "the call stack of %d frames is too deep", len(st.frames)+1)
	}
	if err := v.pushBranch(skip, pc+1); err != nil {
		return err
	}
	callee := &frame{callsite: pc, subprog: target, frameNo: len(st.frames), inCallback: true, cbRetMin: 0, cbRetMax: proto.cbRetMax}
	for i := range callee.regs {
		callee.regs[i].markNotInit()
	}
	switch id {
	case 181: // bpf_loop(nr, cb, ctx, flags): cb(u64 index, void *ctx)
		callee.regs[1].markUnknownScalar()
		callee.regs[2] = regs[3]
	case 164: // for_each_map_elem(map, cb, ctx, flags): cb(map, key, value, ctx)
		m := regs[1].m
		callee.regs[1] = regs[1]
		callee.regs[2].markPtr(ptrToMapKey)
		callee.regs[2].m = m
		callee.regs[3].markPtr(ptrToMapValue)
		callee.regs[3].m = m
		callee.regs[4] = regs[3]
	}
	callee.regs[10].markPtr(ptrToStack)
	callee.regs[10].frameNo = int8(callee.frameNo)
	for i := 0; i <= 5; i++ {
		regs[i].markNotInit()
	}
	st.frames = append(st.frames, callee)
	v.noteCall(st.frames[len(st.frames)-2].subprog, target)
	st.insn = target
	return nil
}

// returnFromFrame is prepare_func_exit.
func (v *verifier) returnFromFrame(pc int) error {
	st := v.cur
	callee := st.cur()
	caller := st.frames[len(st.frames)-2]
	// A static subprogram may return nothing: R0 is copied as it is.
	r0 := callee.regs[0]
	if r0.typ == ptrToStack && !callee.inCallback {
		return v.fail(errno.EINVAL, pc, "cannot return stack pointer to the caller")
	}
	if callee.inCallback {
		if r0.typ != scalarValue {
			return v.fail(errno.EACCES, pc, "R0 not a scalar value")
		}
		if r0.smin < callee.cbRetMin || r0.smax > callee.cbRetMax {
			return v.fail(errno.EINVAL, pc, "At callback return the register R0 has smin=%d smax=%d should have been in [%d, %d]", r0.smin, r0.smax, callee.cbRetMin, callee.cbRetMax)
		}
		caller.regs[0].markUnknownScalar()
	} else {
		caller.regs[0] = r0
	}
	st.frames = st.frames[:len(st.frames)-1]
	st.insn = callee.callsite + 1
	return nil
}
