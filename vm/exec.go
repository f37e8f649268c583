package vm

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/cilium/ebpf/asm"
)

// state is the resumable execution state of a run: the tracer steps the
// interpreter one instruction at a time through it.
type state struct {
	regs  regFile
	pc    int
	depth int
	prog  *Program
}

// regFile is the register file, sized so that any uint8 register number
// indexes it without a bounds check (Prepare allows only r0..r10).
type regFile [256]uint64

// frame is a saved caller of a bpf-to-bpf call.
type frame struct {
	ret  int
	prog *Program
	regs [4]uint64 // r6..r9
}

type stopKind uint8

const (
	stopExit  stopKind = iota // the entry function returned (or ErrStop)
	stopLimit                 // the instruction limit was reached
	stopError                 // err is set
)

func frameTop(depth int) uint64 {
	return Addr(stackRegion, uint32(stackTotal-depth*StackSize))
}

var le = binary.LittleEndian

// exec runs from st for at most limit instructions. It returns how many it
// executed. On stopExit, r0 is st.regs[0].
//
// The loop keeps few values live (pc, the remaining count, the code base
// and the register file's address) so that the compiler can hold them in
// machine registers; everything rare lives in the Machine. The register
// file is the Machine's own (no copy in or out, which measured faster than
// a local array and halves the fixed cost of a run).
func (m *Machine) exec(st *state, limit uint64) (stopKind, uint64, error) {
	mi := &m.impl
	mi.err = nil
	mi.exited = false
	regs := &st.regs
	pc := st.pc
	code := unsafe.Pointer(unsafe.SliceData(st.prog.impl.ops))
	left := limit

loop:
	for {
		// The inner loop runs everything that needs no function call, so
		// that its state stays in machine registers; slow paths leave it
		// with slow set and re-enter it when done.
		var slow *op
	inner:
		for left != 0 {
			left--
			// Prepare proved every jump, call, return and fall-through lands on
			// an instruction of the program, so pc is always in range.
			o := (*op)(unsafe.Add(code, uintptr(pc)*unsafe.Sizeof(op{})))
			pc++
			switch o.code {
			case opInvalid, opNop:
				// Never produced by Prepare; listed so the jump table
				// starts at 0.
				slow = o
				break inner
			// ALU64
			case opAdd64Imm:
				regs[o.dst] += o.imm
			case opAdd64Reg:
				regs[o.dst] += regs[o.src]
			case opSub64Imm:
				regs[o.dst] -= o.imm
			case opSub64Reg:
				regs[o.dst] -= regs[o.src]
			case opMul64Imm:
				regs[o.dst] *= o.imm
			case opMul64Reg:
				regs[o.dst] *= regs[o.src]
			case opDiv64Imm:
				regs[o.dst] = div64(regs[o.dst], o.imm)
			case opDiv64Reg:
				regs[o.dst] = div64(regs[o.dst], regs[o.src])
			case opSDiv64Imm:
				regs[o.dst] = sdiv64(regs[o.dst], o.imm)
			case opSDiv64Reg:
				regs[o.dst] = sdiv64(regs[o.dst], regs[o.src])
			case opOr64Imm:
				regs[o.dst] |= o.imm
			case opOr64Reg:
				regs[o.dst] |= regs[o.src]
			case opAnd64Imm:
				regs[o.dst] &= o.imm
			case opAnd64Reg:
				regs[o.dst] &= regs[o.src]
			case opLsh64Imm:
				regs[o.dst] <<= o.imm
			case opLsh64Reg:
				regs[o.dst] <<= regs[o.src] & 63
			case opRsh64Imm:
				regs[o.dst] >>= o.imm
			case opRsh64Reg:
				regs[o.dst] >>= regs[o.src] & 63
			case opNeg64:
				regs[o.dst] = -regs[o.dst]
			case opMod64Imm:
				regs[o.dst] = mod64(regs[o.dst], o.imm)
			case opMod64Reg:
				regs[o.dst] = mod64(regs[o.dst], regs[o.src])
			case opSMod64Imm:
				regs[o.dst] = smod64(regs[o.dst], o.imm)
			case opSMod64Reg:
				regs[o.dst] = smod64(regs[o.dst], regs[o.src])
			case opXor64Imm:
				regs[o.dst] ^= o.imm
			case opXor64Reg:
				regs[o.dst] ^= regs[o.src]
			case opMov64Imm:
				regs[o.dst] = o.imm
			case opMov64Reg:
				regs[o.dst] = regs[o.src]
			case opMovSX8to64:
				regs[o.dst] = uint64(int8(regs[o.src]))
			case opMovSX16to64:
				regs[o.dst] = uint64(int16(regs[o.src]))
			case opMovSX32to64:
				regs[o.dst] = uint64(int32(regs[o.src]))
			case opArsh64Imm:
				regs[o.dst] = uint64(int64(regs[o.dst]) >> o.imm)
			case opArsh64Reg:
				regs[o.dst] = uint64(int64(regs[o.dst]) >> (regs[o.src] & 63))

			// ALU32: results are zero-extended.
			case opAdd32Imm:
				regs[o.dst] = uint64(uint32(regs[o.dst]) + uint32(o.imm))
			case opAdd32Reg:
				regs[o.dst] = uint64(uint32(regs[o.dst]) + uint32(regs[o.src]))
			case opSub32Imm:
				regs[o.dst] = uint64(uint32(regs[o.dst]) - uint32(o.imm))
			case opSub32Reg:
				regs[o.dst] = uint64(uint32(regs[o.dst]) - uint32(regs[o.src]))
			case opMul32Imm:
				regs[o.dst] = uint64(uint32(regs[o.dst]) * uint32(o.imm))
			case opMul32Reg:
				regs[o.dst] = uint64(uint32(regs[o.dst]) * uint32(regs[o.src]))
			case opDiv32Imm:
				regs[o.dst] = div32(regs[o.dst], o.imm)
			case opDiv32Reg:
				regs[o.dst] = div32(regs[o.dst], regs[o.src])
			case opSDiv32Imm:
				regs[o.dst] = sdiv32(regs[o.dst], o.imm)
			case opSDiv32Reg:
				regs[o.dst] = sdiv32(regs[o.dst], regs[o.src])
			case opOr32Imm:
				regs[o.dst] = uint64(uint32(regs[o.dst]) | uint32(o.imm))
			case opOr32Reg:
				regs[o.dst] = uint64(uint32(regs[o.dst]) | uint32(regs[o.src]))
			case opAnd32Imm:
				regs[o.dst] = uint64(uint32(regs[o.dst]) & uint32(o.imm))
			case opAnd32Reg:
				regs[o.dst] = uint64(uint32(regs[o.dst]) & uint32(regs[o.src]))
			case opLsh32Imm:
				regs[o.dst] = uint64(uint32(regs[o.dst]) << o.imm)
			case opLsh32Reg:
				regs[o.dst] = uint64(uint32(regs[o.dst]) << (regs[o.src] & 31))
			case opRsh32Imm:
				regs[o.dst] = uint64(uint32(regs[o.dst]) >> o.imm)
			case opRsh32Reg:
				regs[o.dst] = uint64(uint32(regs[o.dst]) >> (regs[o.src] & 31))
			case opNeg32:
				regs[o.dst] = uint64(-uint32(regs[o.dst]))
			case opMod32Imm:
				regs[o.dst] = mod32(regs[o.dst], o.imm)
			case opMod32Reg:
				regs[o.dst] = mod32(regs[o.dst], regs[o.src])
			case opSMod32Imm:
				regs[o.dst] = smod32(regs[o.dst], o.imm)
			case opSMod32Reg:
				regs[o.dst] = smod32(regs[o.dst], regs[o.src])
			case opXor32Imm:
				regs[o.dst] = uint64(uint32(regs[o.dst]) ^ uint32(o.imm))
			case opXor32Reg:
				regs[o.dst] = uint64(uint32(regs[o.dst]) ^ uint32(regs[o.src]))
			case opMov32Imm:
				regs[o.dst] = o.imm
			case opMov32Reg:
				regs[o.dst] = uint64(uint32(regs[o.src]))
			case opMovSX8to32:
				regs[o.dst] = uint64(uint32(int32(int8(regs[o.src]))))
			case opMovSX16to32:
				regs[o.dst] = uint64(uint32(int32(int16(regs[o.src]))))
			case opArsh32Imm:
				regs[o.dst] = uint64(uint32(int32(regs[o.dst]) >> o.imm))
			case opArsh32Reg:
				regs[o.dst] = uint64(uint32(int32(regs[o.dst]) >> (regs[o.src] & 31)))

			// Byte order (the host is little endian).
			case opLe16:
				regs[o.dst] = uint64(uint16(regs[o.dst]))
			case opLe32:
				regs[o.dst] = uint64(uint32(regs[o.dst]))
			case opLe64:
			case opBe16:
				regs[o.dst] = uint64(bits.ReverseBytes16(uint16(regs[o.dst])))
			case opBe32:
				regs[o.dst] = uint64(bits.ReverseBytes32(uint32(regs[o.dst])))
			case opBe64:
				regs[o.dst] = bits.ReverseBytes64(regs[o.dst])

			case opLdImm64:
				regs[o.dst] = o.imm
				pc++

			// Loads and stores: the region cache serves the common case here;
			// anything else leaves the inner loop for the slow path.
			case opLdxB:
				a := regs[o.src] + o.imm
				if off := uint32(a); a>>RegionShift == mi.rdID && uint64(off) < uint64(len(mi.rdData)) {
					regs[o.dst] = uint64(mi.rdData[off])
					continue
				}
				slow = o
				break inner
			case opLdxSB:
				a := regs[o.src] + o.imm
				if off := uint32(a); a>>RegionShift == mi.rdID && uint64(off) < uint64(len(mi.rdData)) {
					v := uint64(mi.rdData[off])
					regs[o.dst] = uint64(int8(v))
					continue
				}
				slow = o
				break inner
			case opLdxH:
				a := regs[o.src] + o.imm
				if off := uint32(a); a>>RegionShift == mi.rdID && uint64(off)+2 <= uint64(len(mi.rdData)) {
					regs[o.dst] = uint64(le.Uint16(mi.rdData[off:]))
					continue
				}
				slow = o
				break inner
			case opLdxSH:
				a := regs[o.src] + o.imm
				if off := uint32(a); a>>RegionShift == mi.rdID && uint64(off)+2 <= uint64(len(mi.rdData)) {
					v := uint64(le.Uint16(mi.rdData[off:]))
					regs[o.dst] = uint64(int16(v))
					continue
				}
				slow = o
				break inner
			case opLdxW:
				a := regs[o.src] + o.imm
				if off := uint32(a); a>>RegionShift == mi.rdID && uint64(off)+4 <= uint64(len(mi.rdData)) {
					regs[o.dst] = uint64(le.Uint32(mi.rdData[off:]))
					continue
				}
				slow = o
				break inner
			case opLdxSW:
				a := regs[o.src] + o.imm
				if off := uint32(a); a>>RegionShift == mi.rdID && uint64(off)+4 <= uint64(len(mi.rdData)) {
					v := uint64(le.Uint32(mi.rdData[off:]))
					regs[o.dst] = uint64(int32(v))
					continue
				}
				slow = o
				break inner
			case opLdxDW:
				a := regs[o.src] + o.imm
				if off := uint32(a); a>>RegionShift == mi.rdID && uint64(off)+8 <= uint64(len(mi.rdData)) {
					regs[o.dst] = le.Uint64(mi.rdData[off:])
					continue
				}
				slow = o
				break inner
			case opStxB:
				a := regs[o.dst] + o.imm
				if off := uint32(a); a>>RegionShift == mi.wrID && uint64(off) < uint64(len(mi.wrData)) {
					v := regs[o.src]
					mi.wrData[off] = byte(v)
					continue
				}
				slow = o
				break inner
			case opStB:
				a := regs[o.dst] + o.imm
				if off := uint32(a); a>>RegionShift == mi.wrID && uint64(off) < uint64(len(mi.wrData)) {
					v := uint64(int64(o.aux))
					mi.wrData[off] = byte(v)
					continue
				}
				slow = o
				break inner
			case opStxH:
				a := regs[o.dst] + o.imm
				if off := uint32(a); a>>RegionShift == mi.wrID && uint64(off)+2 <= uint64(len(mi.wrData)) {
					v := regs[o.src]
					le.PutUint16(mi.wrData[off:], uint16(v))
					continue
				}
				slow = o
				break inner
			case opStH:
				a := regs[o.dst] + o.imm
				if off := uint32(a); a>>RegionShift == mi.wrID && uint64(off)+2 <= uint64(len(mi.wrData)) {
					v := uint64(int64(o.aux))
					le.PutUint16(mi.wrData[off:], uint16(v))
					continue
				}
				slow = o
				break inner
			case opStxW:
				a := regs[o.dst] + o.imm
				if off := uint32(a); a>>RegionShift == mi.wrID && uint64(off)+4 <= uint64(len(mi.wrData)) {
					v := regs[o.src]
					le.PutUint32(mi.wrData[off:], uint32(v))
					continue
				}
				slow = o
				break inner
			case opStW:
				a := regs[o.dst] + o.imm
				if off := uint32(a); a>>RegionShift == mi.wrID && uint64(off)+4 <= uint64(len(mi.wrData)) {
					v := uint64(int64(o.aux))
					le.PutUint32(mi.wrData[off:], uint32(v))
					continue
				}
				slow = o
				break inner
			case opStxDW:
				a := regs[o.dst] + o.imm
				if off := uint32(a); a>>RegionShift == mi.wrID && uint64(off)+8 <= uint64(len(mi.wrData)) {
					v := regs[o.src]
					le.PutUint64(mi.wrData[off:], v)
					continue
				}
				slow = o
				break inner
			case opStDW:
				a := regs[o.dst] + o.imm
				if off := uint32(a); a>>RegionShift == mi.wrID && uint64(off)+8 <= uint64(len(mi.wrData)) {
					v := uint64(int64(o.aux))
					le.PutUint64(mi.wrData[off:], v)
					continue
				}
				slow = o
				break inner
			case opAtomic, opCallHelper, opCallReg:
				slow = o
				break inner

			// Jumps.
			case opJa:
				pc = int(o.aux)
			case opJeqImm:
				if regs[o.dst] == o.imm {
					pc = int(o.aux)
				}
			case opJeqReg:
				if regs[o.dst] == regs[o.src] {
					pc = int(o.aux)
				}
			case opJgtImm:
				if regs[o.dst] > o.imm {
					pc = int(o.aux)
				}
			case opJgtReg:
				if regs[o.dst] > regs[o.src] {
					pc = int(o.aux)
				}
			case opJgeImm:
				if regs[o.dst] >= o.imm {
					pc = int(o.aux)
				}
			case opJgeReg:
				if regs[o.dst] >= regs[o.src] {
					pc = int(o.aux)
				}
			case opJsetImm:
				if regs[o.dst]&o.imm != 0 {
					pc = int(o.aux)
				}
			case opJsetReg:
				if regs[o.dst]&regs[o.src] != 0 {
					pc = int(o.aux)
				}
			case opJneImm:
				if regs[o.dst] != o.imm {
					pc = int(o.aux)
				}
			case opJneReg:
				if regs[o.dst] != regs[o.src] {
					pc = int(o.aux)
				}
			case opJsgtImm:
				if int64(regs[o.dst]) > int64(o.imm) {
					pc = int(o.aux)
				}
			case opJsgtReg:
				if int64(regs[o.dst]) > int64(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJsgeImm:
				if int64(regs[o.dst]) >= int64(o.imm) {
					pc = int(o.aux)
				}
			case opJsgeReg:
				if int64(regs[o.dst]) >= int64(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJltImm:
				if regs[o.dst] < o.imm {
					pc = int(o.aux)
				}
			case opJltReg:
				if regs[o.dst] < regs[o.src] {
					pc = int(o.aux)
				}
			case opJleImm:
				if regs[o.dst] <= o.imm {
					pc = int(o.aux)
				}
			case opJleReg:
				if regs[o.dst] <= regs[o.src] {
					pc = int(o.aux)
				}
			case opJsltImm:
				if int64(regs[o.dst]) < int64(o.imm) {
					pc = int(o.aux)
				}
			case opJsltReg:
				if int64(regs[o.dst]) < int64(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJsleImm:
				if int64(regs[o.dst]) <= int64(o.imm) {
					pc = int(o.aux)
				}
			case opJsleReg:
				if int64(regs[o.dst]) <= int64(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJeq32Imm:
				if uint32(regs[o.dst]) == uint32(o.imm) {
					pc = int(o.aux)
				}
			case opJeq32Reg:
				if uint32(regs[o.dst]) == uint32(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJgt32Imm:
				if uint32(regs[o.dst]) > uint32(o.imm) {
					pc = int(o.aux)
				}
			case opJgt32Reg:
				if uint32(regs[o.dst]) > uint32(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJge32Imm:
				if uint32(regs[o.dst]) >= uint32(o.imm) {
					pc = int(o.aux)
				}
			case opJge32Reg:
				if uint32(regs[o.dst]) >= uint32(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJset32Imm:
				if uint32(regs[o.dst])&uint32(o.imm) != 0 {
					pc = int(o.aux)
				}
			case opJset32Reg:
				if uint32(regs[o.dst])&uint32(regs[o.src]) != 0 {
					pc = int(o.aux)
				}
			case opJne32Imm:
				if uint32(regs[o.dst]) != uint32(o.imm) {
					pc = int(o.aux)
				}
			case opJne32Reg:
				if uint32(regs[o.dst]) != uint32(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJsgt32Imm:
				if int32(regs[o.dst]) > int32(o.imm) {
					pc = int(o.aux)
				}
			case opJsgt32Reg:
				if int32(regs[o.dst]) > int32(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJsge32Imm:
				if int32(regs[o.dst]) >= int32(o.imm) {
					pc = int(o.aux)
				}
			case opJsge32Reg:
				if int32(regs[o.dst]) >= int32(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJlt32Imm:
				if uint32(regs[o.dst]) < uint32(o.imm) {
					pc = int(o.aux)
				}
			case opJlt32Reg:
				if uint32(regs[o.dst]) < uint32(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJle32Imm:
				if uint32(regs[o.dst]) <= uint32(o.imm) {
					pc = int(o.aux)
				}
			case opJle32Reg:
				if uint32(regs[o.dst]) <= uint32(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJslt32Imm:
				if int32(regs[o.dst]) < int32(o.imm) {
					pc = int(o.aux)
				}
			case opJslt32Reg:
				if int32(regs[o.dst]) < int32(regs[o.src]) {
					pc = int(o.aux)
				}
			case opJsle32Imm:
				if int32(regs[o.dst]) <= int32(o.imm) {
					pc = int(o.aux)
				}
			case opJsle32Reg:
				if int32(regs[o.dst]) <= int32(regs[o.src]) {
					pc = int(o.aux)
				}

			// Calls.
			case opCallLocal:
				depth := st.depth
				if depth+1 >= MaxCallDepth {
					mi.err = &RunError{Program: st.prog.Name, PC: pc - 1, Err: ErrCallDepth}
					break loop
				}
				f := &mi.frames[depth&(MaxCallDepth-1)]
				f.ret = pc
				f.prog = st.prog
				f.regs = [4]uint64{regs[6], regs[7], regs[8], regs[9]}
				st.depth = depth + 1
				regs[10] = frameTop(depth + 1)
				pc = int(o.aux)
			case opExit:
				depth := st.depth
				if depth == 0 {
					mi.exited = true
					break loop
				}
				depth--
				st.depth = depth
				f := &mi.frames[depth&(MaxCallDepth-1)]
				regs[6], regs[7], regs[8], regs[9] = f.regs[0], f.regs[1], f.regs[2], f.regs[3]
				regs[10] = frameTop(depth)
				pc = f.ret
				if f.prog != st.prog {
					st.prog = f.prog
					mi.cur = f.prog
					code = unsafe.Pointer(unsafe.SliceData(f.prog.impl.ops))
				}
			default:
				slow = o
				break inner
			}
		}
		if slow == nil {
			break // out of instructions
		}
		o := slow
		switch o.code {
		case opLdxB, opLdxSB, opLdxH, opLdxSH, opLdxW, opLdxSW, opLdxDW:
			v, ok := m.loadSlow(pc-1, regs[o.src]+o.imm, int(o.size))
			if !ok {
				break loop
			}
			switch o.code {
			case opLdxSB:
				v = uint64(int8(v))
			case opLdxSH:
				v = uint64(int16(v))
			case opLdxSW:
				v = uint64(int32(v))
			}
			regs[o.dst] = v
		case opStxB, opStxH, opStxW, opStxDW:
			if !m.storeSlow(pc-1, regs[o.dst]+o.imm, int(o.size), regs[o.src]) {
				break loop
			}
		case opStB, opStH, opStW, opStDW:
			if !m.storeSlow(pc-1, regs[o.dst]+o.imm, int(o.size), uint64(int64(o.aux))) {
				break loop
			}
		case opAtomic:
			if !m.atomic(pc-1, o, regs) {
				break loop
			}
		case opCallbackRet:
			// A callback returned to the frame CallFunc pushed; this is
			// no instruction of the program.
			left++
			mi.exited = true
			break loop
		case opCallHelper, opCallReg:
			prog := st.prog
			idx := o.aux
			if o.code == opCallReg {
				id := regs[o.dst]
				i, ok := prog.impl.helperIdx[asm.BuiltinFunc(id)]
				if !ok || id > 0xffffffff {
					mi.err = &RunError{Program: prog.Name, PC: pc - 1, Err: fmt.Errorf("%w: %v (#%d)", ErrUnknownHelper, asm.BuiltinFunc(id), id)}
					break loop
				}
				idx = i
			}
			h := &prog.impl.helpers[idx]
			mi.pc = pc - 1
			mi.left = left
			r0, herr := h.Fn(m, regs[1], regs[2], regs[3], regs[4], regs[5])
			left = mi.left // less what callbacks ran
			regs[0] = r0
			if herr != nil {
				mi.tail = nil
				if herr == ErrStop {
					st.depth = 0
					mi.exited = true
					mi.stopped = true
					break loop
				}
				if cb := mi.cbErr; cb != nil && herr == cb {
					// A callback failed: report where, not which helper
					// called it.
					mi.cbErr = nil
					mi.err = herr
					break loop
				}
				mi.err = &HelperError{Program: prog.Name, PC: pc - 1, Helper: h.Name, ID: h.ID, Err: herr}
				break loop
			}
			if next := mi.tail; next != nil {
				mi.tail = nil
				st.prog = next
				mi.cur = next
				code = unsafe.Pointer(unsafe.SliceData(next.impl.ops))
				pc = 0
			}
		default:
			mi.err = &RunError{Program: st.prog.Name, PC: pc - 1, Err: fmt.Errorf("invalid instruction (op %d)", o.code)}
			break loop
		}
	}
	stop := stopLimit
	switch {
	case mi.err != nil:
		stop = stopError
		pc-- // report the failing instruction
	case mi.exited:
		stop = stopExit
	}
	st.pc = pc
	return stop, limit - left, mi.err
}

func div64(a, b uint64) uint64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func mod64(a, b uint64) uint64 {
	if b == 0 {
		return a
	}
	return a % b
}

func sdiv64(a, b uint64) uint64 {
	if b == 0 {
		return 0
	}
	return uint64(int64(a) / int64(b))
}

func smod64(a, b uint64) uint64 {
	if b == 0 {
		return a
	}
	return uint64(int64(a) % int64(b))
}

func div32(a, b uint64) uint64 {
	if uint32(b) == 0 {
		return 0
	}
	return uint64(uint32(a) / uint32(b))
}

func mod32(a, b uint64) uint64 {
	if uint32(b) == 0 {
		return uint64(uint32(a))
	}
	return uint64(uint32(a) % uint32(b))
}

func sdiv32(a, b uint64) uint64 {
	if uint32(b) == 0 {
		return 0
	}
	return uint64(uint32(int32(a) / int32(b)))
}

func smod32(a, b uint64) uint64 {
	if uint32(b) == 0 {
		return uint64(uint32(a))
	}
	return uint64(uint32(int32(a) % int32(b)))
}
