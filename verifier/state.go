package verifier

import "math"

// regType is the kernel's bpf_reg_type without flags; nullable types carry
// maybeNull in regState.
type regType uint8

const (
	notInit regType = iota
	scalarValue
	ptrToCtx
	constPtrToMap
	ptrToMapValue
	ptrToMapKey
	ptrToStack
	ptrToPacket
	ptrToPacketMeta
	ptrToPacketEnd
	ptrToSocket
	ptrToSockCommon
	ptrToTCPSock
	ptrToMem
	ptrToFunc
	ptrToBTFID
)

var regTypeNames = map[regType]string{
	notInit: "?", scalarValue: "scalar", ptrToCtx: "ctx", constPtrToMap: "map_ptr",
	ptrToMapValue: "map_value", ptrToMapKey: "map_key", ptrToStack: "fp",
	ptrToPacket: "pkt", ptrToPacketMeta: "pkt_meta", ptrToPacketEnd: "pkt_end",
	ptrToSocket: "sock", ptrToSockCommon: "sock_common", ptrToTCPSock: "tcp_sock",
	ptrToMem: "mem", ptrToFunc: "func", ptrToBTFID: "ptr_",
}

// memKind refines ptrToMem (the kernel's type flags).
type memKind uint8

const (
	memPlain memKind = iota
	memRingbuf
	memRdonly
)

// regState is struct bpf_reg_state, reduced to what the rules need.
type regState struct {
	typ       regType
	maybeNull bool
	off       int32 // fixed offset of pointers
	varOff    tnum
	smin      int64
	smax      int64
	umin      uint64
	umax      uint64
	s32min    int32
	s32max    int32
	u32min    uint32
	u32max    uint32
	// id links copies: scalars with the same id are equal, nullable
	// pointers with the same id are NULL together, packet pointers with the
	// same id share the range.
	id uint32
	// refObjID is the acquired reference this pointer belongs to.
	refObjID uint32
	// rng is the verified packet range (packet pointers).
	rng int32
	// m is the map of map pointers and map values; memSize the size of
	// ptrToMem; frameNo the frame a stack pointer points into; subprog the
	// target of a ptrToFunc.
	m       *Map
	memSize uint32
	mem     memKind
	frameNo int8
	subprog int32
}

func (r *regState) typeName() string {
	n := regTypeNames[r.typ]
	if r.typ == ptrToMem {
		switch r.mem {
		case memRingbuf:
			n = "ringbuf_mem"
		case memRdonly:
			n = "rdonly_mem"
		}
	}
	if r.maybeNull {
		n += "_or_null"
	}
	return n
}

func (r *regState) isPointer() bool { return r.typ != scalarValue && r.typ != notInit }

func (r *regState) isPkt() bool {
	return r.typ == ptrToPacket || r.typ == ptrToPacketMeta
}

func (r *regState) isConst() bool { return r.typ == scalarValue && r.varOff.isConst() }

func (r *regState) isNull() bool { return r.typ == scalarValue && r.varOff.equalsConst(0) }

func (r *regState) isConst32() bool {
	return r.typ == scalarValue && r.varOff.subreg().isConst()
}

// markUnknownScalar is __mark_reg_unknown.
func (r *regState) markUnknownScalar() {
	*r = regState{typ: scalarValue, varOff: tnumUnknown}
	r.markUnbounded()
}

func (r *regState) markNotInit() {
	*r = regState{typ: notInit, varOff: tnumUnknown}
	r.markUnbounded()
}

func (r *regState) markConst(v uint64) {
	*r = regState{typ: scalarValue}
	r.markKnown(v)
}

// markPtr turns r into a pointer of type t at offset zero.
func (r *regState) markPtr(t regType) {
	*r = regState{typ: t}
	r.markKnown(0)
}

func unknownScalar() regState {
	var r regState
	r.markUnknownScalar()
	return r
}

// Stack slot byte types (enum bpf_stack_slot_type).
type slotType uint8

const (
	stackInvalid slotType = iota
	stackSpill
	stackMisc
	stackZero
)

const maxStack = 512

// stackSlot is 8 bytes of a frame's stack. types[7] is the byte at the
// lowest address (the kernel's slot_type indexing).
type stackSlot struct {
	types   [8]slotType
	spilled regState
}

func (s *stackSlot) isSpilled() bool { return s.types[7] == stackSpill }

// frame is struct bpf_func_state.
type frame struct {
	regs       [11]regState
	stack      []stackSlot // slot i covers [fp-8(i+1), fp-8i)
	callsite   int         // slot of the call that created the frame, -1
	subprog    int
	frameNo    int
	inCallback bool
	// callback frame: where bpf_loop-like helpers resume, and the
	// acceptable return range.
	cbRetMin, cbRetMax int64
}

func (f *frame) clone() *frame {
	n := *f
	n.stack = append([]stackSlot(nil), f.stack...)
	return &n
}

// slot returns the stack slot holding fp-relative byte off (negative),
// growing the stack as needed.
func (f *frame) slot(off int) *stackSlot {
	spi := (-off - 1) / 8
	for len(f.stack) <= spi {
		f.stack = append(f.stack, stackSlot{})
	}
	return &f.stack[spi]
}

func (f *frame) byteType(off int) slotType {
	spi := (-off - 1) / 8
	if spi >= len(f.stack) {
		return stackInvalid
	}
	return f.stack[spi].types[(-off-1)%8]
}

type refState struct {
	id      uint32
	insnIdx int
}

// vstate is struct bpf_verifier_state: the call frames of one path.
type vstate struct {
	frames []*frame
	refs   []refState
	// insn is the next instruction to process; for pushed branches.
	insn int
	// parent links to the checkpoint this path came from and branches
	// counts the paths still being explored below a checkpoint.
	parent   *checkpoint
	loopHead bool
	// callbackDepth bounds bpf_loop unrolling.
	cbDepth int
}

func (s *vstate) cur() *frame { return s.frames[len(s.frames)-1] }

func (s *vstate) clone() *vstate {
	n := &vstate{insn: s.insn, parent: s.parent, cbDepth: s.cbDepth}
	// One allocation for the frames, one for all their stacks.
	fs := make([]frame, len(s.frames))
	n.frames = make([]*frame, len(s.frames))
	total := 0
	for _, f := range s.frames {
		total += len(f.stack)
	}
	stacks := make([]stackSlot, total)
	for i, f := range s.frames {
		fs[i] = *f
		k := copy(stacks, f.stack)
		fs[i].stack = stacks[:k:k]
		stacks = stacks[k:]
		n.frames[i] = &fs[i]
	}
	n.refs = append([]refState(nil), s.refs...)
	return n
}

// forEachReg calls fn for every register and spilled register of every
// frame.
func (s *vstate) forEachReg(fn func(r *regState)) {
	for _, f := range s.frames {
		for i := range f.regs {
			fn(&f.regs[i])
		}
		for i := range f.stack {
			if f.stack[i].isSpilled() {
				fn(&f.stack[i].spilled)
			}
		}
	}
}

const maxVarOff = 1 << 29

// Packet ranges of a pointer known to be past the packet's end or at it
// (BEYOND_PKT_END, AT_PKT_END).
const (
	pktBeyondEnd = -1
	pktAtEnd     = -2
)

var _ = math.MaxInt64
