package verifier

import (
	"github.com/skmsg/skmsg/internal/errno"
	"math"
	"syscall"
)

type accessType int

const (
	accRead accessType = iota
	accWrite
	accHelper
)

// checkLoad is the BPF_LDX case of do_check.
func (v *verifier) checkLoad(pc int, in *insn) error {
	if in.mode() != modeMEM && in.mode() != modeMEMSX {
		return v.fail(errno.EINVAL, pc, "BPF_LDX uses reserved fields")
	}
	if in.imm != 0 || (in.mode() == modeMEMSX && in.sizeBits() == sizeDW) {
		return v.fail(errno.EINVAL, pc, "BPF_LDX uses reserved fields")
	}
	if err := v.checkRegRead(pc, in.src); err != nil {
		return err
	}
	if err := v.checkRegWrite(pc, in.dst); err != nil {
		return err
	}
	return v.checkMemAccess(pc, in.src, int(in.off), in.size(), accRead, int(in.dst), nil, in.mode() == modeMEMSX)
}

// checkStore is BPF_STX (BPF_MEM).
func (v *verifier) checkStore(pc int, in *insn) error {
	if in.mode() != modeMEM || in.imm != 0 {
		return v.fail(errno.EINVAL, pc, "BPF_STX uses reserved fields")
	}
	if err := v.checkRegRead(pc, in.src); err != nil {
		return err
	}
	if err := v.checkRegRead(pc, in.dst); err != nil {
		return err
	}
	return v.checkMemAccess(pc, in.dst, int(in.off), in.size(), accWrite, int(in.src), nil, false)
}

// checkStoreImm is BPF_ST.
func (v *verifier) checkStoreImm(pc int, in *insn) error {
	if in.mode() != modeMEM || in.src != 0 {
		return v.fail(errno.EINVAL, pc, "BPF_ST uses reserved fields")
	}
	if err := v.checkRegRead(pc, in.dst); err != nil {
		return err
	}
	var imm regState
	imm.markConst(uint64(int64(in.imm)))
	return v.checkMemAccess(pc, in.dst, int(in.off), in.size(), accWrite, -1, &imm, false)
}

// checkAtomic is check_atomic.
func (v *verifier) checkAtomic(pc int, in *insn) error {
	const (
		fetch    = 0x01
		xchg     = 0xe0 | fetch
		cmpxchg  = 0xf0 | fetch
		loadAcq  = 0x100
		storeRel = 0x110
	)
	switch in.imm {
	case aluADD, aluADD | fetch, aluAND, aluAND | fetch, aluOR, aluOR | fetch, aluXOR, aluXOR | fetch, xchg, cmpxchg:
	default:
		return v.fail(errno.EINVAL, pc, "BPF_ATOMIC uses invalid atomic opcode %02x", in.imm)
	}
	if in.size() != 4 && in.size() != 8 {
		return v.fail(errno.EINVAL, pc, "invalid atomic operand size")
	}
	if err := v.checkRegRead(pc, in.src); err != nil {
		return err
	}
	if err := v.checkRegRead(pc, in.dst); err != nil {
		return err
	}
	regs := v.regs()
	if in.imm == cmpxchg {
		if err := v.checkRegRead(pc, 0); err != nil {
			return err
		}
	}
	d := &regs[in.dst]
	switch d.typ {
	case ptrToCtx, ptrToPacket, ptrToPacketMeta, ptrToSocket, ptrToSockCommon, ptrToTCPSock:
		return v.fail(errno.EACCES, pc, "BPF_ATOMIC stores into R%d %s is not allowed", in.dst, d.typeName())
	}
	// Atomic accesses are always checked for alignment (strict).
	desc := map[regType]string{ptrToMapValue: "value ", ptrToMapKey: "key ", ptrToMem: "", ptrToBTFID: ""}
	if pd, ok := desc[d.typ]; ok {
		if !d.varOff.add(tnumConst(uint64(int64(d.off) + int64(in.off)))).isAligned(uint64(in.size())) {
			vo := d.varOff.String()
			if d.varOff.isConst() {
				vo = sprintf("%d", int64(d.varOff.value))
			}
			return v.fail(errno.EACCES, pc, "misaligned %saccess off %s+%d+%d size %d", pd, vo, d.off, in.off, in.size())
		}
	}
	loadReg := -1
	if in.imm&fetch != 0 {
		loadReg = int(in.src)
		if in.imm == cmpxchg {
			loadReg = 0
		}
	}
	if err := v.checkMemAccess(pc, in.dst, int(in.off), in.size(), accRead, loadReg, nil, false); err != nil {
		return err
	}
	return v.checkMemAccess(pc, in.dst, int(in.off), in.size(), accWrite, -1, &regState{typ: scalarValue, varOff: tnumUnknown, smin: math.MinInt64, smax: math.MaxInt64, umax: math.MaxUint64, s32min: math.MinInt32, s32max: math.MaxInt32, u32max: math.MaxUint32}, false)
}

// checkMemAccess is check_mem_access: regno is the base register, off
// the instruction's offset; for reads valueReg receives the value, for
// writes valueReg (or imm when valueReg < 0) is the value stored.
func (v *verifier) checkMemAccess(pc int, regno uint8, off, size int, t accessType, valueReg int, imm *regState, sx bool) error {
	regs := v.regs()
	reg := &regs[regno]
	var val *regState
	if t == accWrite {
		if valueReg >= 0 {
			val = &regs[valueReg]
		} else {
			val = imm
		}
	}
	if reg.typ == ptrToStack {
		// Stack accesses must be aligned (check_ptr_alignment is strict
		// for the stack: spill tracking relies on it).
		if !reg.varOff.add(tnumConst(uint64(int64(reg.off) + int64(off)))).isAligned(uint64(size)) {
			vo := reg.varOff.String()
			if reg.varOff.isConst() {
				vo = sprintf("%d", int64(reg.varOff.value))
			}
			return v.fail(errno.EACCES, pc, "misaligned stack access off %s+%d+%d size %d", vo, reg.off, off, size)
		}
	}
	off += int(reg.off)
	var result regState
	result.markUnknownScalar()
	setResult := true
	switch {
	case reg.typ == ptrToMapKey:
		if t == accWrite {
			return v.fail(errno.EACCES, pc, "write to change key R%d not allowed", regno)
		}
		if err := v.checkMemRegion(pc, regno, off, size, reg.m.KeySize, false); err != nil {
			return err
		}
	case reg.typ == ptrToMapValue && !reg.maybeNull:
		m := reg.m
		if t == accWrite && m.Flags&flagRdonlyProg != 0 {
			return v.fail(errno.EACCES, pc, "write into map forbidden, value_size=%d off=%d size=%d", m.ValueSize, off, size)
		}
		if t == accRead && m.Flags&flagWronlyProg != 0 {
			return v.fail(errno.EACCES, pc, "read from map forbidden, value_size=%d off=%d size=%d", m.ValueSize, off, size)
		}
		if err := v.checkMemRegion(pc, regno, off, size, m.ValueSize, false); err != nil {
			return err
		}
		if t == accRead && m.Flags&flagRdonlyProg != 0 && reg.varOff.isConst() {
			if c, ok := m.readConst(off+int(reg.varOff.value), size); ok {
				result.markConst(c)
			}
		}
	case reg.typ == ptrToMem && !reg.maybeNull:
		if t == accWrite && reg.mem == memRdonly {
			return v.fail(errno.EACCES, pc, "the reg %d is rdonly", regno)
		}
		if err := v.checkMemRegion(pc, regno, off, size, reg.memSize, false); err != nil {
			return err
		}
	case reg.typ == ptrToCtx:
		if err := v.checkCtxPtrOff(pc, regno, reg); err != nil {
			return err
		}
		ptrType, ok := v.pt.ctxAccess(off, size, t == accWrite, sx, v.p.in.AttachType)
		if !ok {
			return v.fail(errno.EACCES, pc, "invalid bpf_context access off=%d size=%d", off, size)
		}
		if t == accRead && ptrType.typ != scalarValue {
			result.markPtr(ptrType.typ)
			result.maybeNull = ptrType.maybeNull
			if result.maybeNull {
				result.id = v.newID()
			}
		}
	case reg.typ == ptrToStack:
		if err := v.checkStackAccess(pc, regno, reg, off, size, t, valueReg, val, &result, &setResult); err != nil {
			return err
		}
	case reg.isPkt():
		if t == accWrite && !v.pt.pktWrite {
			return v.fail(errno.EACCES, pc, "cannot write into packet")
		}
		if err := v.checkPacketAccess(pc, regno, reg, off, size); err != nil {
			return err
		}
	case (reg.typ == ptrToSocket || reg.typ == ptrToSockCommon || reg.typ == ptrToTCPSock) && !reg.maybeNull:
		if t == accWrite {
			return v.fail(errno.EACCES, pc, "R%d cannot write into %s", regno, reg.typeName())
		}
		if reg.smin < 0 {
			return v.fail(errno.EACCES, pc, "R%d min value is negative, either use unsigned index or do a if (index >=0) check.", regno)
		}
		if !sockAccessOK(reg.typ, off, size) {
			return v.fail(errno.EACCES, pc, "R%d invalid %s access off=%d size=%d", regno, reg.typeName(), off, size)
		}
	case reg.typ == ptrToBTFID && !reg.maybeNull:
		// Typed kernel pointers: reads give scalars (the kernel checks
		// the field against BTF; skmsg does not model vmlinux types).
		if t == accWrite {
			return v.fail(errno.EACCES, pc, "only read is supported")
		}
		if t == accRead && size == 8 {
			// May be a pointer field: the kernel walks BTF and gives
			// another typed pointer; skmsg, without the kernel's
			// types, gives a pointer that also does scalar math.
			result.markPtr(ptrToBTFID)
		}
	default:
		return v.fail(errno.EACCES, pc, "R%d invalid mem access '%s'", regno, reg.typeName())
	}
	if t == accRead && valueReg >= 0 {
		if setResult {
			regs[valueReg] = result
		}
		r := &regs[valueReg]
		if r.typ == scalarValue && size < 8 {
			if sx {
				r.coerceToSizeSX(size)
			} else {
				r.coerceToSize(size)
			}
		}
	}
	return nil
}

// checkCtxPtrOff is check_ptr_off_reg for the context: its offset must be
// fixed and zero... the kernel allows a fixed offset folded into off.
func (v *verifier) checkCtxPtrOff(pc int, regno uint8, reg *regState) error {
	if !reg.varOff.isConst() || reg.varOff.value != 0 {
		return v.fail(errno.EACCES, pc, "variable ctx access var_off=%s disallowed", reg.varOff)
	}
	if reg.off != 0 {
		return v.fail(errno.EACCES, pc, "dereference of modified ctx ptr R%d off=%d disallowed", regno, reg.off)
	}
	return nil
}

// checkMemRegion is check_mem_region_access.
func (v *verifier) checkMemRegion(pc int, regno uint8, off, size int, memSize uint32, zeroOK bool) error {
	reg := &v.regs()[regno]
	if reg.smin < 0 && (reg.smin == math.MinInt64 || int64(off)+reg.smin != int64(int32(int64(off)+reg.smin)) || reg.smin+int64(off) < 0) {
		return v.fail(errno.EACCES, pc, "R%d min value is negative, either use unsigned index or do a if (index >=0) check.", regno)
	}
	if msg := memAccessMsg(reg, regno, reg.smin+int64(off), size, memSize, zeroOK); msg != "" {
		return v.failLines(errno.EACCES, pc, msg, sprintf("R%d min value is outside of the allowed memory range", regno))
	}
	if reg.umax >= maxVarOff {
		return v.fail(errno.EACCES, pc, "R%d unbounded memory access, make sure to bounds check any such access", regno)
	}
	if msg := memAccessMsg(reg, regno, int64(reg.umax)+int64(off), size, memSize, zeroOK); msg != "" {
		return v.failLines(errno.EACCES, pc, msg, sprintf("R%d max value is outside of the allowed memory range", regno))
	}
	return nil
}

// memAccessMsg is __check_mem_access: "" when [off, off+size) fits.
func memAccessMsg(reg *regState, regno uint8, off int64, size int, memSize uint32, zeroOK bool) string {
	sizeOK := size > 0 || (size == 0 && zeroOK)
	if off >= 0 && sizeOK && off+int64(size) <= int64(memSize) {
		return ""
	}
	switch reg.typ {
	case ptrToMapKey:
		return sprintf("invalid access to map key, key_size=%d off=%d size=%d", memSize, off, size)
	case ptrToMapValue:
		return sprintf("invalid access to map value, value_size=%d off=%d size=%d", memSize, off, size)
	case ptrToPacket, ptrToPacketMeta, ptrToPacketEnd:
		return sprintf("invalid access to packet, off=%d size=%d, R%d(id=%d,off=%d,r=%d)", off, size, regno, reg.id, off, memSize)
	}
	return sprintf("invalid access to memory, mem_size=%d off=%d size=%d", memSize, off, size)
}

// checkPacketAccess is check_packet_access.
func (v *verifier) checkPacketAccess(pc int, regno uint8, reg *regState, off, size int) error {
	if reg.smin < 0 {
		return v.fail(errno.EACCES, pc, "R%d min value is negative, either use unsigned index or do a if (index >=0) check.", regno)
	}
	if reg.rng < 0 {
		return v.fail(errno.EINVAL, pc, "R%d offset is outside of the packet", regno)
	}
	if msg := memAccessMsg(reg, regno, int64(off), size, uint32(reg.rng), false); msg != "" {
		return v.failLines(errno.EACCES, pc, msg, sprintf("R%d offset is outside of the packet", regno))
	}
	return nil
}

// checkStackAccess handles reads and writes through a stack pointer.
func (v *verifier) checkStackAccess(pc int, regno uint8, reg *regState, off, size int, t accessType, valueReg int, val *regState, result *regState, setResult *bool) error {
	f := v.cur.frames[reg.frameNo]
	if err := v.stackBounds(pc, regno, reg, off, size, t); err != nil {
		return err
	}
	if !reg.varOff.isConst() {
		lo := int(reg.smin) + off
		hi := int(reg.smax) + off + size
		v.noteStackDepth(f, lo)
		if t == accWrite {
			// A variable-offset write makes every byte it may hit
			// unknown data (check_stack_write_var_off).
			zero := val != nil && val.isNull()
			for a := lo; a < hi; a++ {
				s := f.slot(a)
				if s.isSpilled() {
					for i := range s.types {
						if s.types[i] == stackSpill {
							s.types[i] = stackMisc
						}
					}
				}
				idx := (-a - 1) % 8
				if !zero || s.types[idx] != stackZero {
					s.types[idx] = stackMisc
				}
			}
			return nil
		}
		zeroes := true
		for a := lo; a < hi; a++ {
			if f.byteType(a) != stackZero {
				zeroes = false
			}
		}
		if zeroes {
			result.markConst(0)
		}
		return nil
	}
	off += int(reg.varOff.value)
	v.noteStackDepth(f, off)
	if t == accWrite {
		return v.stackWrite(pc, f, off, size, valueReg, val)
	}
	return v.stackRead(pc, f, off, size, result, setResult)
}

// stackBounds is check_stack_access_within_bounds.
func (v *verifier) stackBounds(pc int, regno uint8, reg *regState, off, size int, t accessType) error {
	var minOff, maxOff int64
	extra := " read from"
	if t == accWrite {
		extra = " write to"
	}
	if reg.varOff.isConst() {
		minOff = int64(reg.varOff.value) + int64(off)
		maxOff = minOff + int64(size)
	} else {
		if reg.smax >= maxVarOff || reg.smin <= -maxVarOff {
			return v.fail(errno.EACCES, pc, "invalid unbounded variable-offset%s stack R%d", extra, regno)
		}
		minOff = reg.smin + int64(off)
		maxOff = reg.smax + int64(off) + int64(size)
	}
	code := syscall.Errno(0)
	if minOff < -maxStack || minOff > -1 {
		code = errno.EACCES
	} else if maxOff > 0 || size < 0 {
		// Out of the stack into non-negative offsets.
		code = errno.EINVAL
	}
	if code != 0 {
		if reg.varOff.isConst() {
			return v.fail(code, pc, "invalid%s stack R%d off=%d size=%d", extra, regno, off+int(reg.varOff.value), size)
		}
		return v.fail(code, pc, "invalid variable-offset%s stack R%d var_off=%s off=%d size=%d", extra, regno, reg.varOff, off, size)
	}
	return nil
}

func isSpillable(r *regState) bool {
	switch r.typ {
	case scalarValue, notInit:
		return false
	}
	return true
}

// stackWrite is check_stack_write_fixed_off (privileged).
func (v *verifier) stackWrite(pc int, f *frame, off, size int, valueReg int, val *regState) error {
	s := f.slot(off)
	aligned := off%8 == 0
	switch {
	case val != nil && val.typ == scalarValue && aligned:
		v.saveSpill(s, val, size, valueReg >= 0)
	case val != nil && isSpillable(val):
		if size != 8 {
			return v.fail(errno.EACCES, pc, "invalid size of register spill")
		}
		if val.typ == ptrToStack && f != v.cur.cur() {
			return v.fail(errno.EINVAL, pc, "cannot spill pointers to stack into stack frame of the caller")
		}
		v.saveSpill(s, val, size, true)
	default:
		typ := stackMisc
		if val != nil && val.isNull() {
			typ = stackZero
		}
		if s.isSpilled() {
			for i := range s.types {
				if s.types[i] == stackSpill {
					s.types[i] = stackMisc
				}
			}
			s.spilled = regState{}
		}
		slot := -off - 1
		for i := 0; i < size; i++ {
			s2 := f.slot(-(slot - i) - 1)
			s2.types[(slot-i)%8] = typ
		}
	}
	return nil
}

func (v *verifier) saveSpill(s *stackSlot, val *regState, size int, fromReg bool) {
	r := *val
	fits := size == 8 || r.umax <= uint64(1)<<(uint(size)*8)-1
	if r.typ == scalarValue && fromReg && r.id == 0 && !r.varOff.isConst() && fits {
		// The spill and the register stay linked (assign_scalar_id_before_mov).
		r.id = v.newID()
		*val = r
	}
	if r.typ == scalarValue && size < 8 && r.umax > uint64(1)<<(uint(size)*8)-1 {
		r.id = 0
	}
	s.spilled = r
	for i := 8; i > 8-size; i-- {
		s.types[i-1] = stackSpill
	}
	for i := 8 - size; i > 0; i-- {
		if s.types[i-1] != stackZero && s.types[i-1] != stackInvalid {
			s.types[i-1] = stackMisc
		}
	}
}

// stackRead is check_stack_read_fixed_off (privileged: uninitialised
// bytes read as unknown).
func (v *verifier) stackRead(pc int, f *frame, off, size int, result *regState, setResult *bool) error {
	s := f.slot(off)
	slot := -off - 1
	if s.isSpilled() {
		spill := 1
		for i := 7; i > 0 && s.types[i-1] == stackSpill; i-- {
			spill++
		}
		r := &s.spilled
		if size != 8 || spill != 8 {
			if r.typ != scalarValue {
				return v.fail(errno.EACCES, pc, "invalid size of register fill")
			}
			if size <= spill && off%8 == 0 {
				*result = *r
				if r.umax > uint64(1)<<(uint(size)*8)-1 || size == 8 {
					if size < 8 {
						result.id = 0
					}
				}
				return nil
			}
			spillCnt, zeroCnt := 0, 0
			for i := 0; i < size; i++ {
				switch f.byteType(-(slot - i) - 1) {
				case stackSpill:
					spillCnt++
				case stackZero:
					zeroCnt++
				}
			}
			if (spillCnt == size && r.varOff.equalsConst(0)) || zeroCnt == size {
				result.markConst(0)
			}
			return nil
		}
		*result = *r
		return nil
	}
	zeroes := true
	for i := 0; i < size; i++ {
		if f.byteType(-(slot-i)-1) != stackZero {
			zeroes = false
		}
	}
	if zeroes {
		result.markConst(0)
	}
	return nil
}
