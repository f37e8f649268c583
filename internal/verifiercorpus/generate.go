package verifiercorpus

import (
	"math/rand/v2"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Kind is one of the five sockmap attach kinds.
type Kind struct {
	Name       string
	Type       ebpf.ProgramType
	AttachType ebpf.AttachType
	// DataOff and EndOff are the offsets of the context's packet
	// pointers, DataSize their load size.
	DataOff, EndOff int16
	DataSize        asm.Size
	// Fields are context fields (offset, size) worth loading; Writable
	// the ones worth storing to. Mostly valid ones: the generator also
	// nudges them off by a little.
	Fields, Writable [][2]int16
	// Helpers are helper ids worth calling from the kind (its own and
	// the generic ones), and some of other kinds'.
	Helpers []int64
}

// Kinds are the five attach kinds programs are generated for.
var Kinds = []Kind{
	{Name: "sk_msg", Type: ebpf.SkMsg, AttachType: ebpf.AttachSkMsgVerdict, DataOff: 0, EndOff: 8, DataSize: asm.DWord,
		Fields:  [][2]int16{{16, 4}, {20, 4}, {24, 4}, {28, 4}, {44, 4}, {60, 4}, {64, 4}, {68, 4}, {72, 8}, {66, 2}},
		Helpers: []int64{1, 2, 3, 5, 7, 8, 14, 60, 61, 62, 63, 71, 90, 91, 130, 26, 39, 52, 53}},
	{Name: "sk_skb/stream_parser", Type: ebpf.SkSKB, AttachType: ebpf.AttachSkSKBStreamParser, DataOff: 76, EndOff: 80, DataSize: asm.Word,
		Fields:   [][2]int16{{0, 4}, {0, 1}, {2, 2}, {16, 4}, {32, 4}, {44, 4}, {48, 4}, {68, 4}, {88, 4}, {92, 4}, {132, 4}, {8, 4}},
		Writable: [][2]int16{{32, 4}, {44, 4}, {48, 4}},
		Helpers:  []int64{1, 2, 3, 5, 7, 26, 38, 39, 46, 47, 52, 72, 130, 60, 53}},
	{Name: "sk_skb/stream_verdict", Type: ebpf.SkSKB, AttachType: ebpf.AttachSkSKBStreamVerdict, DataOff: 76, EndOff: 80, DataSize: asm.Word,
		Fields:   [][2]int16{{0, 4}, {0, 1}, {2, 2}, {16, 4}, {32, 4}, {44, 4}, {48, 4}, {68, 4}, {88, 4}, {92, 4}, {132, 4}, {8, 4}},
		Writable: [][2]int16{{32, 4}, {44, 4}, {0, 4}},
		Helpers:  []int64{1, 2, 3, 5, 7, 26, 38, 39, 46, 50, 52, 72, 130, 60, 53}},
	{Name: "sk_skb/verdict", Type: ebpf.SkSKB, AttachType: ebpf.AttachSkSKBVerdict, DataOff: 76, EndOff: 80, DataSize: asm.Word,
		Fields:   [][2]int16{{0, 4}, {0, 2}, {16, 4}, {32, 4}, {44, 4}, {48, 4}, {68, 4}, {88, 4}, {96, 4}, {136, 4}, {72, 4}},
		Writable: [][2]int16{{32, 4}, {44, 4}, {8, 4}},
		Helpers:  []int64{1, 2, 3, 5, 7, 26, 38, 39, 46, 50, 52, 72, 130, 60, 53}},
	{Name: "sockops", Type: ebpf.SockOps, AttachType: ebpf.AttachCGroupSockOps, DataOff: 192, EndOff: 200, DataSize: asm.DWord,
		Fields:   [][2]int16{{0, 4}, {4, 4}, {20, 4}, {24, 4}, {64, 4}, {72, 4}, {76, 4}, {88, 4}, {168, 8}, {208, 4}, {212, 4}, {0, 1}, {168, 4}},
		Writable: [][2]int16{{4, 4}, {164, 4}, {8, 4}, {0, 4}},
		Helpers:  []int64{1, 2, 3, 5, 7, 14, 46, 53, 59, 70, 130, 60, 52, 26}},
}

// GenMaps are the maps generated programs reference (by these names).
var GenMaps = []MapDesc{
	{Name: "arr16", Type: ebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 4},
	{Name: "hash64", Type: ebpf.Hash, KeySize: 8, ValueSize: 8, MaxEntries: 16},
	{Name: "sock_map", Type: ebpf.SockMap, KeySize: 4, ValueSize: 8, MaxEntries: 4},
	{Name: "sock_hash", Type: ebpf.SockHash, KeySize: 4, ValueSize: 8, MaxEntries: 4},
	{Name: "rb", Type: ebpf.RingBuf, MaxEntries: 4096},
}

// helperArgs are the argument kinds of the helpers the generator calls
// with arguments of the right kind (most of the time): c ctx, a array,
// h hash, s sockmap, S sockhash, r ringbuf, k key on the stack, v value
// on the stack (16 bytes), n small number, z zero, l length (1..16).
var helperArgs = map[int64]string{
	1: "ak", 2: "akvz", 3: "hk", 5: "", 7: "", 8: "", 14: "",
	26: "cnvl", 38: "cnz", 39: "cn", 46: "c", 47: "c", 50: "cnzz",
	52: "cszz", 53: "cskz", 59: "cn", 60: "cszz", 61: "cn", 62: "cn",
	63: "cnnz", 70: "cSkz", 71: "cSkz", 72: "cSkz", 90: "cnnz", 91: "cnnz",
	130: "rvlz",
}

// gen builds one random program of a kind from blocks of instructions
// that look like what compilers emit: context loads and stores, packet
// bounds checks, map lookups with or without NULL checks, stack spills
// and fills, ALU on initialised registers, helper calls, forward
// branches and small bounded loops. Constants sit at the edges (off by
// one either way) so that a good share of the programs is accepted and
// the rest refused for one reason.
type gen struct {
	r      *rand.Rand
	kind   Kind
	blocks [][]asm.Instruction
	jumps  []genJump
}

// genJump is a jump instruction (block, index) to the instruction
// (target, targetIndex); targets past the last block go to the
// epilogue.
type genJump struct {
	block, index        int
	target, targetIndex int
}

// Generate returns a random program for kind. r6 holds the context, r7
// to r9 are initialised in the prologue and only ever hold scalars, and
// the stack has a zeroed key at fp-8 and a zeroed 16-byte value at
// fp-32, so most instructions read initialised state.
func Generate(r *rand.Rand, kind Kind) asm.Instructions {
	g := &gen{r: r, kind: kind}
	g.emit(
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.Mov.Imm(asm.R7, int32(r.IntN(16))),
		asm.Mov.Imm(asm.R8, 0),
		asm.LoadMem(asm.R9, asm.R6, kind.Fields[0][0], sizeFor(kind.Fields[0][1])),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),
		asm.StoreMem(asm.RFP, -16, asm.R1, asm.DWord),
		asm.StoreMem(asm.RFP, -24, asm.R1, asm.DWord),
		asm.StoreMem(asm.RFP, -32, asm.R1, asm.DWord),
	)
	n := 1 + r.IntN(7)
	for i := 0; i < n; i++ {
		g.block()
	}
	g.epilogue()
	return g.join()
}

func (g *gen) emit(ins ...asm.Instruction) int {
	g.blocks = append(g.blocks, ins)
	return len(g.blocks) - 1
}

// one in n
func (g *gen) oneIn(n int) bool { return g.r.IntN(n) == 0 }

// edge returns n, or n off by one or a few either way.
func (g *gen) edge(n int64) int64 {
	switch g.r.IntN(8) {
	case 0:
		return n - 1
	case 1:
		return n + 1
	case 2:
		return n + int64(g.r.IntN(9)) - 4
	default:
		return n
	}
}

// val is a register holding a scalar (r7..r9), rarely r1..r5 (which
// calls leave uninitialised).
func (g *gen) val() asm.Register {
	if g.oneIn(30) {
		return asm.Register(1 + g.r.IntN(5))
	}
	return asm.Register(7 + g.r.IntN(3))
}

var sizes = []asm.Size{asm.Byte, asm.Half, asm.Word, asm.DWord}

func (g *gen) block() {
	switch g.r.IntN(12) {
	case 0, 1:
		g.ctxLoad()
	case 2, 3:
		g.alu()
	case 4:
		g.stack()
	case 5, 6:
		g.packet()
	case 7:
		g.lookup()
	case 8, 9:
		g.call()
	case 10:
		g.branch()
	case 11:
		g.loop()
	}
}

func (g *gen) ctxLoad() {
	k := g.kind
	if len(k.Writable) > 0 && g.oneIn(4) {
		f := k.Writable[g.r.IntN(len(k.Writable))]
		g.emit(asm.StoreMem(asm.R6, f[0], g.val(), sizeFor(f[1])))
		return
	}
	f := k.Fields[g.r.IntN(len(k.Fields))]
	off, size := f[0], sizeFor(f[1])
	if g.oneIn(6) {
		off = int16(g.edge(int64(off)))
	}
	if g.oneIn(8) {
		size = sizes[g.r.IntN(len(sizes))]
	}
	g.emit(asm.LoadMem(asm.Register(7+g.r.IntN(3)), asm.R6, off, size))
}

var aluOps = []asm.ALUOp{asm.Add, asm.Sub, asm.Mul, asm.Div, asm.Or, asm.And, asm.LSh, asm.RSh, asm.Mod, asm.Xor, asm.Mov, asm.ArSh}

func (g *gen) alu() {
	dst := asm.Register(7 + g.r.IntN(3))
	if g.oneIn(12) {
		g.emit(asm.Neg.Imm(dst, 0))
		return
	}
	op := aluOps[g.r.IntN(len(aluOps))]
	imm := int64(g.r.IntN(40))
	if g.oneIn(6) {
		imm = edgeImms[g.r.IntN(len(edgeImms))]
	}
	ins := op.Imm(dst, int32(imm))
	if g.oneIn(2) {
		ins = op.Reg(dst, g.val())
	}
	if g.oneIn(3) {
		ins = asm.Instruction{OpCode: asm.OpCode(asm.ALUClass).SetALUOp(op).SetSource(ins.OpCode.Source()), Dst: ins.Dst, Src: ins.Src, Constant: ins.Constant}
	}
	g.emit(ins)
}

func (g *gen) stack() {
	off := -int16(8 * (1 + g.r.IntN(6)))
	if g.oneIn(10) {
		off = []int16{-512, -520, 0, -3, -4, 8}[g.r.IntN(6)]
	}
	size := sizes[g.r.IntN(len(sizes))]
	if g.oneIn(2) {
		src := g.val()
		if g.oneIn(5) {
			src = asm.R6 // a pointer spill
		}
		g.emit(asm.StoreMem(asm.RFP, off, src, size))
		return
	}
	g.emit(asm.LoadMem(asm.Register(7+g.r.IntN(3)), asm.RFP, off, size))
}

// packet: r2 = data; r3 = data_end; r4 = r2 + N; if r4 > r3 goto skip;
// then a load or store of size S at data + M, with M + S = N most of the
// time and off by one or a few otherwise.
func (g *gen) packet() {
	k := g.kind
	n := int64(1 + g.r.IntN(16))
	size := sizes[g.r.IntN(len(sizes))]
	m := g.edge(n) - int64(size.Sizeof())
	if m < 0 {
		m = 0
	}
	access := asm.LoadMem(asm.R5, asm.R2, int16(m), size)
	if g.oneIn(4) {
		// built by hand: cilium/ebpf refuses a DWord StoreImm, the kernel
		// takes it (the immediate sign-extended)
		access = asm.Instruction{OpCode: asm.StoreImmOp(size), Dst: asm.R2, Offset: int16(m), Constant: 1}
	}
	cmp := asm.JGT
	if g.oneIn(4) {
		cmp = []asm.JumpOp{asm.JGE, asm.JLT, asm.JLE}[g.r.IntN(3)]
	}
	b := g.emit(
		asm.LoadMem(asm.R2, asm.R6, k.DataOff, k.DataSize),
		asm.LoadMem(asm.R3, asm.R6, k.EndOff, k.DataSize),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, int32(n)),
		cmp.Reg(asm.R4, asm.R3, ""),
		access,
	)
	if g.oneIn(3) {
		g.blocks[b] = append(g.blocks[b], asm.Mov.Reg(asm.R7, asm.R5))
	}
	g.jumps = append(g.jumps, genJump{block: b, index: 4, target: b + 1})
}

// lookup: bpf_map_lookup_elem with the key at fp-8 (zero, or a ctx
// field the verifier cannot see), a NULL check most of the time, then an
// access near the value's end.
func (g *gen) lookup() {
	m := GenMaps[g.r.IntN(2)]
	var body []asm.Instruction
	if g.oneIn(3) {
		body = append(body, asm.StoreMem(asm.RFP, -8, asm.R9, asm.DWord))
	}
	body = append(body,
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.LoadMapPtr(asm.R1, 0).WithReference(m.Name),
		asm.FnMapLookupElem.Call(),
	)
	checked := !g.oneIn(4)
	if checked {
		body = append(body, asm.JEq.Imm(asm.R0, 0, ""))
	}
	size := sizes[g.r.IntN(len(sizes))]
	off := g.edge(int64(m.ValueSize)) - int64(size.Sizeof())
	if g.oneIn(2) {
		off = int64(g.r.IntN(int(m.ValueSize)/int(size.Sizeof())+1)) * int64(size.Sizeof())
	}
	if g.oneIn(2) {
		body = append(body, asm.LoadMem(asm.R7, asm.R0, int16(off), size))
	} else {
		body = append(body, asm.StoreMem(asm.R0, int16(off), asm.R8, size))
	}
	b := g.emit(body...)
	if checked {
		g.jumps = append(g.jumps, genJump{block: b, index: len(body) - 2, target: b + 1})
	}
}

func (g *gen) arg(r asm.Register, kind byte) []asm.Instruction {
	mapArg := func(name string) []asm.Instruction {
		return []asm.Instruction{asm.LoadMapPtr(r, 0).WithReference(name)}
	}
	switch kind {
	case 'c':
		return []asm.Instruction{asm.Mov.Reg(r, asm.R6)}
	case 'a':
		return mapArg("arr16")
	case 'h':
		return mapArg("hash64")
	case 's':
		return mapArg("sock_map")
	case 'S':
		return mapArg("sock_hash")
	case 'r':
		return mapArg("rb")
	case 'k':
		return []asm.Instruction{asm.Mov.Reg(r, asm.RFP), asm.Add.Imm(r, -8)}
	case 'v':
		return []asm.Instruction{asm.Mov.Reg(r, asm.RFP), asm.Add.Imm(r, -32)}
	case 'l':
		return []asm.Instruction{asm.Mov.Imm(r, int32(g.edge(int64(1+g.r.IntN(16)))))}
	case 'n':
		return []asm.Instruction{asm.Mov.Imm(r, int32(g.r.IntN(9)))}
	default:
		return []asm.Instruction{asm.Mov.Imm(r, 0)}
	}
}

func (g *gen) call() {
	id := g.kind.Helpers[g.r.IntN(len(g.kind.Helpers))]
	if g.oneIn(25) {
		id = int64(g.r.IntN(212))
	}
	args, ok := helperArgs[id]
	if !ok {
		args = "cnnn"
	}
	kinds := []byte(args)
	if len(kinds) > 0 && g.oneIn(6) {
		kinds[g.r.IntN(len(kinds))] = "cahsSrkvlnz"[g.r.IntN(11)]
	}
	var body []asm.Instruction
	for i, k := range kinds {
		body = append(body, g.arg(asm.Register(1+i), k)...)
	}
	body = append(body, asm.BuiltinFunc(id).Call())
	if g.oneIn(2) {
		body = append(body, asm.Mov.Reg(asm.R7, asm.R0))
	}
	g.emit(body...)
}

var condOps = []asm.JumpOp{asm.JEq, asm.JNE, asm.JGT, asm.JGE, asm.JLT, asm.JLE, asm.JSGT, asm.JSGE, asm.JSLT, asm.JSLE, asm.JSet}

func (g *gen) branch() {
	op := condOps[g.r.IntN(len(condOps))]
	ins := op.Imm(g.val(), int32(g.r.IntN(20)), "")
	if g.oneIn(2) {
		ins = op.Reg(g.val(), g.val(), "")
	}
	if g.oneIn(3) {
		ins.OpCode = asm.OpCode(asm.Jump32Class).SetJumpOp(op).SetSource(ins.OpCode.Source())
	}
	b := g.emit(ins)
	g.jumps = append(g.jumps, genJump{block: b, index: 0, target: b + 1 + g.r.IntN(3)})
}

// loop: r8 = 0; L: r8 += step; if r8 < bound goto L. Walked to the
// bound, or forever when the step is 0 or goes the wrong way.
func (g *gen) loop() {
	step := int32(1)
	if g.oneIn(10) {
		step = int32(g.r.IntN(3)) - 1
	}
	bound := int32(2 + g.r.IntN(40))
	op := []asm.JumpOp{asm.JLT, asm.JLE, asm.JNE, asm.JSLT}[g.r.IntN(4)]
	b := g.emit(asm.Mov.Imm(asm.R8, 0), asm.Add.Imm(asm.R8, step), op.Imm(asm.R8, bound, ""))
	g.jumps = append(g.jumps, genJump{block: b, index: 2, target: b, targetIndex: 1})
}

func (g *gen) epilogue() {
	switch {
	case g.oneIn(12):
		g.emit(asm.Return()) // r0 may be unset, or a pointer
	case g.oneIn(6):
		g.emit(asm.Mov.Reg(asm.R0, g.val()), asm.Return())
	default:
		g.emit(asm.Mov.Imm(asm.R0, int32(g.r.IntN(2))), asm.Return())
	}
}

// join concatenates the blocks and resolves the jumps to slot offsets.
func (g *gen) join() asm.Instructions {
	slotOf := func(block, index int) int {
		s := 0
		for i, b := range g.blocks {
			for j, ins := range b {
				if i == block && j == index {
					return s
				}
				s += int(ins.Width())
			}
		}
		return s
	}
	for _, j := range g.jumps {
		target, ti := j.target, j.targetIndex
		if target >= len(g.blocks) {
			target, ti = len(g.blocks)-1, 0
		}
		g.blocks[j.block][j.index].Offset = int16(slotOf(target, ti) - slotOf(j.block, j.index) - 1)
	}
	var out asm.Instructions
	for _, b := range g.blocks {
		out = append(out, b...)
	}
	return out
}

// sizeFor is the load/store size of n bytes.
func sizeFor(n int16) asm.Size {
	switch n {
	case 1:
		return asm.Byte
	case 2:
		return asm.Half
	case 8:
		return asm.DWord
	}
	return asm.Word
}
