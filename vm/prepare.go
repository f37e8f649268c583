package vm

import (
	"fmt"
	"slices"

	"github.com/cilium/ebpf/asm"
)

type programImpl struct {
	space     *Space
	ops       []op
	slotToIdx []int32 // slot -> index in Insns; -1 for the second slot of LD_IMM64
	helpers   []Helper
	helperIdx map[asm.BuiltinFunc]int32
	budget    uint64
	funcs     []int32 // sorted slots that function pointers (PseudoFunc LD_IMM64) name
}

func (p *Program) numInsns() int { return len(p.impl.ops) - 1 }

// callbackRet is the slot of the opCallbackRet that ends p's ops.
func (p *programImpl) callbackRet() int { return len(p.ops) - 1 }

// InsnIndex maps an instruction slot (as in Step.PC, Fault.PC) to the index
// of the instruction in p.Insns, or -1 when pc is not the start of one.
func (p *Program) InsnIndex(pc int) int {
	if pc < 0 || pc >= len(p.impl.slotToIdx) {
		return -1
	}
	return int(p.impl.slotToIdx[pc])
}

// Insn returns the instruction at slot pc.
func (p *Program) Insn(pc int) (asm.Instruction, bool) {
	i := p.InsnIndex(pc)
	if i < 0 {
		return asm.Instruction{}, false
	}
	return p.Insns[i], true
}

// Budget is the default instruction budget of a run of p.
func (p *Program) Budget() uint64 { return p.impl.budget }

// Space is the address space p was prepared for.
func (p *Program) Space() *Space { return p.impl.space }

// decoder holds the state of one Prepare.
type decoder struct {
	name  string
	insns asm.Instructions
	opts  Options
	prog  *programImpl
	raws  []raw // by slot (second LD_IMM64 slot: zero)
	syms  map[string]int
	slots []int // instruction index -> slot
}

func (d *decoder) errf(pc int, format string, args ...any) error {
	return &ProgramError{Program: d.name, PC: pc, Reason: fmt.Sprintf(format, args...)}
}

func prepare(space *Space, name string, insns asm.Instructions, opts Options) (*Program, error) {
	if space == nil {
		return nil, &ProgramError{Program: name, PC: 0, Reason: "no address space"}
	}
	if len(insns) == 0 {
		return nil, &ProgramError{Program: name, PC: 0, Reason: "empty program"}
	}
	d := &decoder{name: name, insns: insns, opts: opts, prog: &programImpl{space: space}}
	d.slots = make([]int, len(insns))
	n := 0
	for i := range insns {
		d.slots[i] = n
		if insns[i].OpCode.IsDWordLoad() {
			n += 2
		} else {
			n++
		}
	}
	if n > 1<<24 {
		return nil, d.errf(0, "program too large: %d instructions", n)
	}
	p := d.prog
	p.ops = make([]op, n)
	p.slotToIdx = make([]int32, n)
	d.raws = make([]raw, n)
	for i := range p.slotToIdx {
		p.slotToIdx[i] = -1
	}
	p.budget = opts.Budget
	if p.budget == 0 {
		p.budget = DefaultBudget
	}

	for i := range insns {
		pc := d.slots[i]
		p.slotToIdx[pc] = int32(i)
		r, err := toRaw(&insns[i])
		if err != nil {
			return nil, d.errf(pc, "%v", err)
		}
		d.raws[pc] = r
		if err := d.decode(pc, i, r); err != nil {
			return nil, err
		}
		if r.wide {
			p.ops[pc+1] = op{code: opNop}
		}
	}
	if err := d.checkFlow(); err != nil {
		return nil, err
	}
	if opts.CheckContext != nil {
		if err := d.checkContext(); err != nil {
			return nil, err
		}
	}
	p.ops = append(p.ops, op{code: opCallbackRet})
	prog := &Program{Name: name, Insns: insns, impl: *p}
	return prog, nil
}

func (d *decoder) decode(pc, i int, r raw) error {
	o := op{dst: r.dst, src: r.src}
	if r.dst > 10 {
		return d.errf(pc, "invalid destination register r%d", r.dst)
	}
	if r.src > 10 {
		return d.errf(pc, "invalid source register r%d", r.src)
	}
	cls := r.opcode & 7
	switch cls {
	case clsALU, clsALU64:
		if err := d.decodeALU(pc, r, &o); err != nil {
			return err
		}
	case clsJMP, clsJMP32:
		if err := d.decodeJump(pc, i, r, &o); err != nil {
			return err
		}
	case clsLDX:
		mode, sz := r.opcode&0xe0, r.opcode&0x18
		o.size = sizeBytes[sz>>3]
		switch {
		case mode == modeMEM:
			o.code = [4]uint8{opLdxW, opLdxH, opLdxB, opLdxDW}[sz>>3]
		case mode == modeMEMSX && sz != sizeDW:
			o.code = [4]uint8{opLdxSW, opLdxSH, opLdxSB, 0}[sz>>3]
		default:
			return d.errf(pc, "invalid load opcode %#02x", r.opcode)
		}
		if r.imm != 0 {
			return d.errf(pc, "load uses reserved fields")
		}
		if r.dst == 10 {
			return d.errf(pc, "frame pointer r10 is read only")
		}
		o.imm = uint64(int64(r.off))
	case clsST:
		if r.opcode&0xe0 != modeMEM {
			return d.errf(pc, "invalid store opcode %#02x", r.opcode)
		}
		if r.src != 0 {
			return d.errf(pc, "store uses reserved fields")
		}
		sz := r.opcode & 0x18
		o.size = sizeBytes[sz>>3]
		o.code = [4]uint8{opStW, opStH, opStB, opStDW}[sz>>3]
		o.imm = uint64(int64(r.off))
		o.aux = r.imm
	case clsSTX:
		sz := r.opcode & 0x18
		o.size = sizeBytes[sz>>3]
		o.imm = uint64(int64(r.off))
		switch r.opcode & 0xe0 {
		case modeMEM:
			if r.imm != 0 {
				return d.errf(pc, "store uses reserved fields")
			}
			o.code = [4]uint8{opStxW, opStxH, opStxB, opStxDW}[sz>>3]
		case modeATOMIC:
			o.code = opAtomic
			o.aux = r.imm
			switch r.imm {
			case 0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, atomicXchg, atomicCmpXchg:
				if sz != sizeW && sz != sizeDW {
					return d.errf(pc, "invalid atomic operand size %d", o.size)
				}
				if r.imm&atomicFetch != 0 && r.src == 10 {
					return d.errf(pc, "frame pointer r10 is read only")
				}
			case atomicLoadAcq:
				if r.dst == 10 {
					return d.errf(pc, "frame pointer r10 is read only")
				}
			case atomicStRel:
			default:
				return d.errf(pc, "invalid atomic operation %#x", uint32(r.imm))
			}
		default:
			return d.errf(pc, "invalid store opcode %#02x", r.opcode)
		}
	case clsLD:
		if !r.wide || r.opcode != 0x18 {
			return d.errf(pc, "unsupported load opcode %#02x (legacy packet loads are not allowed)", r.opcode)
		}
		if r.dst == 10 {
			return d.errf(pc, "frame pointer r10 is read only")
		}
		if r.off != 0 {
			return d.errf(pc, "LD_IMM64 uses reserved fields")
		}
		o.code = opLdImm64
		o.src = 0
		o.imm = r.imm64
		if r.src == pseudoFunc {
			// A function pointer is the program's own business: resolve
			// it here rather than asking the embedder.
			t, err := d.funcTarget(pc, i, r)
			if err != nil {
				return err
			}
			o.imm = FuncAddr(t)
			d.prog.funcs = append(d.prog.funcs, int32(t))
		} else if r.src != 0 {
			if d.opts.ResolveImm64 == nil {
				return d.errf(pc, "pseudo LD_IMM64 (src %d, %v) cannot be resolved", r.src, d.insns[i])
			}
			v, err := d.opts.ResolveImm64(pc, d.insns[i])
			if err != nil {
				return d.errf(pc, "pseudo LD_IMM64 (src %d): %v", r.src, err)
			}
			o.imm = v
		}
	}
	if o.code == opInvalid {
		return d.errf(pc, "invalid opcode %#02x", r.opcode)
	}
	d.prog.ops[pc] = o
	return nil
}

func (d *decoder) decodeALU(pc int, r raw, o *op) error {
	is64 := r.opcode&7 == clsALU64
	aop := r.opcode >> 4
	isReg := r.opcode&srcX != 0
	if r.dst == 10 {
		return d.errf(pc, "frame pointer r10 is read only")
	}
	if aop == 0xd { // byte order
		if r.src != 0 || r.off != 0 {
			return d.errf(pc, "byte swap uses reserved fields")
		}
		var w int
		switch r.imm {
		case 16:
			w = 0
		case 32:
			w = 1
		case 64:
			w = 2
		default:
			return d.errf(pc, "invalid byte swap width %d", r.imm)
		}
		switch {
		case is64 && isReg:
			return d.errf(pc, "invalid opcode %#02x", r.opcode)
		case is64 || isReg: // bswap, or to big endian on a little-endian machine
			o.code = opBe16 + uint8(w)
		default:
			o.code = opLe16 + uint8(w)
		}
		return nil
	}
	if aop > 0xc {
		return d.errf(pc, "invalid opcode %#02x", r.opcode)
	}
	if isReg {
		if r.imm != 0 {
			return d.errf(pc, "ALU uses reserved fields")
		}
	} else if r.src != 0 {
		return d.errf(pc, "ALU uses reserved fields")
	}
	base := aluOps[aop] // 64-bit imm form
	switch {
	case r.off == 0:
	case r.off == 1 && (aop == 0x3 || aop == 0x9):
		base++ // signed form follows the register form
		base++
	case aop == 0xb && isReg && (r.off == 8 || r.off == 16 || (r.off == 32 && is64)):
		switch r.off {
		case 8:
			base = opMovSX8to64
		case 16:
			base = opMovSX16to64
		case 32:
			base = opMovSX32to64
		}
		isReg = false // no imm/reg pair
	default:
		return d.errf(pc, "ALU uses reserved fields (offset %d)", r.off)
	}
	if aop == 0x8 { // neg
		if isReg || r.imm != 0 {
			return d.errf(pc, "neg uses reserved fields")
		}
	}
	code := base
	if isReg && aop != 0x8 {
		code++
	}
	if !is64 {
		code = alu32Of[code]
	}
	o.code = code
	if isReg {
		return nil
	}
	if is64 {
		o.imm = uint64(int64(r.imm))
	} else {
		o.imm = uint64(uint32(r.imm))
	}
	switch aop {
	case 0x6, 0x7, 0xc: // shifts: the amount is masked like the hardware does
		if is64 {
			o.imm &= 63
		} else {
			o.imm &= 31
		}
	}
	return nil
}

// alu32Of maps a 64-bit ALU op to its 32-bit counterpart.
var alu32Of = func() [256]uint8 {
	var t [256]uint8
	for c := opAdd64Imm; c <= opArsh64Reg; c++ {
		switch {
		case c < opMovSX8to64:
			t[c] = c - opAdd64Imm + opAdd32Imm
		case c == opMovSX8to64:
			t[c] = opMovSX8to32
		case c == opMovSX16to64:
			t[c] = opMovSX16to32
		case c == opMovSX32to64:
			t[c] = opInvalid
		default:
			t[c] = c - opArsh64Imm + opArsh32Imm
		}
	}
	return t
}()

func (d *decoder) decodeJump(pc, i int, r raw, o *op) error {
	is32 := r.opcode&7 == clsJMP32
	jop := r.opcode >> 4
	isReg := r.opcode&srcX != 0
	next := pc + 1
	switch {
	case jop == 0x0: // ja / gotol
		if isReg || r.dst != 0 || r.src != 0 {
			return d.errf(pc, "jump uses reserved fields")
		}
		o.code = opJa
		if is32 {
			if r.off != 0 {
				return d.errf(pc, "gotol uses reserved fields")
			}
			o.aux = int32(int64(next) + int64(r.imm))
			if int64(next)+int64(r.imm) != int64(o.aux) {
				o.aux = -1
			}
		} else {
			if r.imm != 0 {
				return d.errf(pc, "jump uses reserved fields")
			}
			o.aux = int32(next + int(r.off))
		}
		return nil
	case jop == 0x8 && !is32: // call
		return d.decodeCall(pc, i, r, o)
	case jop == 0x9 && !is32: // exit
		if isReg || r.dst != 0 || r.src != 0 || r.off != 0 || r.imm != 0 {
			return d.errf(pc, "exit uses reserved fields")
		}
		o.code = opExit
		return nil
	case jmpOps[jop] == 0:
		if jop == 0xe {
			return d.errf(pc, "may_goto is not supported")
		}
		return d.errf(pc, "invalid jump opcode %#02x", r.opcode)
	}
	code := jmpOps[jop]
	if is32 {
		code += jmp32Delta
	}
	if isReg {
		if r.imm != 0 {
			return d.errf(pc, "jump uses reserved fields")
		}
		code++
	} else {
		if r.src != 0 {
			return d.errf(pc, "jump uses reserved fields")
		}
		if is32 {
			o.imm = uint64(uint32(r.imm))
		} else {
			o.imm = uint64(int64(r.imm))
		}
	}
	o.code = code
	o.aux = int32(next + int(r.off))
	return nil
}

func (d *decoder) decodeCall(pc, i int, r raw, o *op) error {
	ins := &d.insns[i]
	if r.opcode&srcX != 0 {
		// callx: the register named by dst holds the helper ID, as in the
		// conformance suite.
		if r.src != 0 || r.off != 0 || r.imm != 0 {
			return d.errf(pc, "callx uses reserved fields")
		}
		o.code = opCallReg
		d.ensureHelperIndex()
		return nil
	}
	if r.dst != 0 || r.off != 0 {
		return d.errf(pc, "call uses reserved fields")
	}
	switch r.src {
	case 0:
		id := asm.BuiltinFunc(uint32(r.imm))
		h, ok := d.opts.Helpers[id]
		if !ok || h.Fn == nil {
			return d.errf(pc, "call to helper %v (#%d) is not allowed for this program", id, uint32(r.imm))
		}
		if h.ID == 0 {
			h.ID = id
		}
		if h.Name == "" {
			h.Name = id.String()
		}
		d.ensureHelperIndex()
		idx, ok := d.prog.helperIdx[id]
		if !ok {
			idx = int32(len(d.prog.helpers))
			d.prog.helpers = append(d.prog.helpers, h)
			d.prog.helperIdx[id] = idx
		}
		o.code = opCallHelper
		o.aux = idx
		return nil
	case 1:
		target := int64(pc) + 1 + int64(r.imm)
		if r.imm == -1 && ins.Reference() != "" {
			idx, err := d.symbol(pc, ins.Reference())
			if err != nil {
				return d.errf(pc, "call to %v", err)
			}
			target = int64(d.slots[idx])
		}
		if target < 0 || target >= int64(len(d.prog.ops)) {
			return d.errf(pc, "call target %d out of range", target)
		}
		o.code = opCallLocal
		o.src = 0
		o.aux = int32(target)
		return nil
	case 2:
		return d.errf(pc, "kfunc calls are not supported")
	}
	return d.errf(pc, "invalid call (src %d)", r.src)
}

// pseudoFunc is BPF_PSEUDO_FUNC, the LD_IMM64 source of a function pointer.
const pseudoFunc = uint8(asm.PseudoFunc)

// funcTarget returns the slot a PseudoFunc LD_IMM64 at pc names: by symbol
// when the loader left it symbolic (Constant -1 and a Reference), else by
// its imm as the kernel reads it, relative to the next slot.
func (d *decoder) funcTarget(pc, i int, r raw) (int, error) {
	ins := &d.insns[i]
	if ref := ins.Reference(); ref != "" && ins.Constant == -1 {
		idx, err := d.symbol(pc, ref)
		if err != nil {
			return 0, d.errf(pc, "function pointer: %v", err)
		}
		return d.slots[idx], nil
	}
	if hi := uint32(r.imm64 >> 32); hi != 0 && hi != uint32(int64(r.imm)>>32) {
		return 0, d.errf(pc, "function pointer uses reserved fields (upper half %#x)", hi)
	}
	t := int64(pc) + 1 + int64(r.imm)
	if t < 0 || t >= int64(len(d.prog.ops)) {
		return 0, d.errf(pc, "function pointer target %d out of range", t)
	}
	return int(t), nil
}

// symbol returns the instruction index of the function named ref.
func (d *decoder) symbol(pc int, ref string) (int, error) {
	if d.syms == nil {
		syms, err := d.insns.SymbolOffsets()
		if err != nil {
			return 0, err
		}
		d.syms = syms
	}
	idx, ok := d.syms[ref]
	if !ok {
		return 0, fmt.Errorf("unknown function %q", ref)
	}
	return idx, nil
}

func (d *decoder) ensureHelperIndex() {
	if d.prog.helperIdx == nil {
		d.prog.helperIdx = make(map[asm.BuiltinFunc]int32)
		// callx may name any allowed helper: index them all.
		ids := make([]asm.BuiltinFunc, 0, len(d.opts.Helpers))
		for id, h := range d.opts.Helpers {
			if h.Fn != nil {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			h := d.opts.Helpers[id]
			if h.ID == 0 {
				h.ID = id
			}
			if h.Name == "" {
				h.Name = id.String()
			}
			d.prog.helperIdx[id] = int32(len(d.prog.helpers))
			d.prog.helpers = append(d.prog.helpers, h)
		}
	}
}

// checkFlow checks control flow: every jump and call lands on the start of
// an instruction inside the program, jumps stay inside their function, and
// no function falls through its end.
func (d *decoder) checkFlow() error {
	ops := d.prog.ops
	n := len(ops)
	isStart := func(t int) bool { return t >= 0 && t < n && d.prog.slotToIdx[t] >= 0 }
	starts := []int{0}
	for pc := range ops {
		if ops[pc].code == opCallLocal {
			t := int(ops[pc].aux)
			if !isStart(t) {
				return d.errf(pc, "call into the middle of an LD_IMM64 at %d", t)
			}
			starts = append(starts, t)
		}
	}
	// A function pointer must name the start of a function: a symbol (the
	// loader's functions) or a bpf-to-bpf call target. In a bare stream
	// without symbols the pointer itself makes its target a function, as in
	// the kernel (add_subprog), and the checks below keep jumps and
	// fall-through out of it.
	funcs := map[int]bool{}
	for i := range d.insns {
		if d.insns[i].Symbol() != "" {
			funcs[d.slots[i]] = true
		}
	}
	strict := len(funcs) > 0
	for _, t := range starts[1:] {
		funcs[t] = true
	}
	for pc := range ops {
		if ops[pc].code != opLdImm64 || d.raws[pc].src != pseudoFunc {
			continue
		}
		t := int(uint32(ops[pc].imm))
		if !isStart(t) {
			return d.errf(pc, "function pointer into the middle of an LD_IMM64 at %d", t)
		}
		if strict && !funcs[t] {
			return d.errf(pc, "function pointer to %d, which is not the start of a function", t)
		}
	}
	for _, t := range d.prog.funcs {
		starts = append(starts, int(t))
	}
	slices.Sort(d.prog.funcs)
	d.prog.funcs = slices.Compact(d.prog.funcs)
	slices.Sort(starts)
	starts = slices.Compact(starts)
	fn := 0 // index in starts of the function holding pc
	for pc := 0; pc < n; pc++ {
		if d.prog.slotToIdx[pc] < 0 {
			continue
		}
		for fn+1 < len(starts) && pc >= starts[fn+1] {
			fn++
		}
		lo, hi := starts[fn], n
		if fn+1 < len(starts) {
			hi = starts[fn+1]
		}
		o := &ops[pc]
		if o.code >= opJa && o.code <= opJsle32Reg {
			t := int(o.aux)
			if t < 0 || t >= n {
				return d.errf(pc, "jump out of range to %d", t)
			}
			if !isStart(t) {
				return d.errf(pc, "jump into the middle of an LD_IMM64 at %d", t)
			}
			if t < lo || t >= hi {
				return d.errf(pc, "jump to %d leaves the function [%d, %d)", t, lo, hi)
			}
		}
		if o.code == opExit || o.code == opJa {
			continue
		}
		width := 1
		if o.code == opLdImm64 {
			width = 2
		}
		if pc+width >= hi {
			if hi == n {
				return d.errf(pc, "falls off the end of the program")
			}
			return d.errf(pc, "falls through into function at %d", hi)
		}
	}
	return nil
}
