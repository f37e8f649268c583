package verifier

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path"
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// insn is one raw instruction slot as the kernel sees it (struct
// bpf_insn), decoded from asm.Instructions by marshalling them, so that
// extended encodings (sdiv, movsx, atomics) read exactly as in the kernel.
type insn struct {
	code uint8
	dst  uint8
	src  uint8
	off  int16
	imm  int32
	// For the first slot of LD_IMM64: the 64-bit constant and the map the
	// pseudo source refers to (nil for plain constants).
	imm64 uint64
	m     *Map
	// ref is the unresolved reference name of a LD_IMM64 map load whose
	// map is unknown.
	ref string
	// second marks the second slot of a LD_IMM64.
	second bool
	// line is the BTF line info starting at this slot, "" when none.
	line *btf.Line
}

// BPF instruction classes and fields (include/uapi/linux/bpf.h).
const (
	clsLD    = 0x00
	clsLDX   = 0x01
	clsST    = 0x02
	clsSTX   = 0x03
	clsALU   = 0x04
	clsJMP   = 0x05
	clsJMP32 = 0x06
	clsALU64 = 0x07

	sizeW  = 0x00
	sizeH  = 0x08
	sizeB  = 0x10
	sizeDW = 0x18

	modeIMM    = 0x00
	modeABS    = 0x20
	modeIND    = 0x40
	modeMEM    = 0x60
	modeMEMSX  = 0x80
	modeATOMIC = 0xc0

	srcK = 0x00
	srcX = 0x08

	aluADD  = 0x00
	aluSUB  = 0x10
	aluMUL  = 0x20
	aluDIV  = 0x30
	aluOR   = 0x40
	aluAND  = 0x50
	aluLSH  = 0x60
	aluRSH  = 0x70
	aluNEG  = 0x80
	aluMOD  = 0x90
	aluXOR  = 0xa0
	aluMOV  = 0xb0
	aluARSH = 0xc0
	aluEND  = 0xd0

	jmpJA    = 0x00
	jmpJEQ   = 0x10
	jmpJGT   = 0x20
	jmpJGE   = 0x30
	jmpJSET  = 0x40
	jmpJNE   = 0x50
	jmpJSGT  = 0x60
	jmpJSGE  = 0x70
	jmpCALL  = 0x80
	jmpEXIT  = 0x90
	jmpJLT   = 0xa0
	jmpJLE   = 0xb0
	jmpJSLT  = 0xc0
	jmpJSLE  = 0xd0
	jmpJCOND = 0xe0

	pseudoMapFD     = 1
	pseudoMapValue  = 2
	pseudoBTFID     = 3
	pseudoFunc      = 4
	pseudoMapIdx    = 5
	pseudoMapIdxVal = 6

	pseudoCall      = 1
	pseudoKfuncCall = 2
)

func (i *insn) class() uint8    { return i.code & 0x07 }
func (i *insn) op() uint8       { return i.code & 0xf0 }
func (i *insn) srcBit() uint8   { return i.code & 0x08 }
func (i *insn) mode() uint8     { return i.code & 0xe0 }
func (i *insn) sizeBits() uint8 { return i.code & 0x18 }

// size is the access size in bytes of a load or store.
func (i *insn) size() int {
	switch i.sizeBits() {
	case sizeB:
		return 1
	case sizeH:
		return 2
	case sizeW:
		return 4
	}
	return 8
}

func (i *insn) isLdImm64() bool { return i.code == clsLD|modeIMM|sizeDW }

func (i *insn) isJmp() bool { c := i.class(); return c == clsJMP || c == clsJMP32 }

// isHelperCall is a call of a BPF helper (not a bpf-to-bpf call or kfunc).
func (i *insn) isHelperCall() bool {
	return i.code == clsJMP|jmpCALL && i.src == 0
}
func (i *insn) isPseudoCall() bool {
	return i.code == clsJMP|jmpCALL && i.src == pseudoCall
}

// program is the decoded input.
type program struct {
	in    *Program
	insns []insn
	// subprogs are the start slots of the functions, sorted, first 0.
	subprogs []int
	// funcNames by start slot, for messages; funcs their BTF func info.
	funcNames map[int]string
	funcs     map[int]*btf.Func
}

// decode turns p.Instructions into raw slots, resolving symbolic
// references (calls, function pointers, jumps to labels).
func decode(p *Program) (*program, error) {
	ins := p.Instructions
	if len(ins) == 0 {
		return nil, fmt.Errorf("%w: program %s has no instructions", ErrBadInput, p.Name)
	}
	// Slot of every instruction and of every symbol.
	slots := make([]int, len(ins))
	syms := map[string]int{}
	n := 0
	for i := range ins {
		slots[i] = n
		if s := ins[i].Symbol(); s != "" {
			if _, dup := syms[s]; !dup {
				syms[s] = n
			}
		}
		n += int(ins[i].Size() / asm.InstructionSize)
	}
	prog := &program{in: p, insns: make([]insn, n), funcNames: map[int]string{}, funcs: map[int]*btf.Func{}}
	var buf bytes.Buffer
	for i := range ins {
		in := ins[i]
		slot := slots[i]
		ref := in.Reference()
		var m *Map
		switch {
		case in.OpCode.IsDWordLoad() && (in.Src == asm.PseudoMapFD || in.Src == asm.PseudoMapValue):
			if ref != "" {
				m = p.Maps[ref]
			}
			if in.Src == asm.PseudoMapFD {
				in.Constant = 0
			} else {
				in.Constant = int64(uint64(in.Constant) >> 32 << 32)
			}
		case ref != "" && (in.IsFunctionCall() || in.IsLoadOfFunctionPointer()):
			target, ok := syms[ref]
			if !ok {
				return nil, fmt.Errorf("%w: insn %d: call to unknown function %q", ErrBadInput, slot, ref)
			}
			in.Constant = int64(target - slot - 1)
		case ref != "" && in.OpCode.JumpOp() != asm.InvalidJumpOp && !in.IsBuiltinCall() && in.OpCode.JumpOp() != asm.Exit:
			target, ok := syms[ref]
			if ok {
				if in.OpCode.Class() == asm.Jump32Class && in.OpCode.JumpOp() == asm.Ja {
					in.Constant = int64(target - slot - 1)
				} else {
					in.Offset = int16(target - slot - 1)
				}
			}
		}
		buf.Reset()
		if _, err := in.Marshal(&buf, binary.LittleEndian); err != nil {
			return nil, fmt.Errorf("%w: insn %d (%v): %w", ErrBadInput, slot, in, err)
		}
		raw := buf.Bytes()
		for k := 0; k+8 <= len(raw); k += 8 {
			r := raw[k : k+8]
			d := &prog.insns[slot+k/8]
			d.code = r[0]
			d.dst = r[1] & 0x0f
			d.src = r[1] >> 4
			d.off = int16(binary.LittleEndian.Uint16(r[2:]))
			d.imm = int32(binary.LittleEndian.Uint32(r[4:]))
			if k > 0 {
				d.second = true
			}
		}
		if len(raw) == 16 {
			d := &prog.insns[slot]
			d.imm64 = uint64(uint32(d.imm)) | uint64(uint32(prog.insns[slot+1].imm))<<32
			d.m = m
			if m == nil && ref != "" && (in.Src == asm.PseudoMapFD || in.Src == asm.PseudoMapValue) {
				d.ref = ref
			}
		}
		if l, ok := in.Source().(*btf.Line); ok && l != nil {
			prog.insns[slot].line = l
		}
		if s := in.Symbol(); s != "" && slot != 0 {
			prog.funcNames[slot] = s
		}
		if fn := btf.FuncMetadata(&ins[i]); fn != nil {
			prog.funcs[slot] = fn
		}
	}
	if s := ins[0].Symbol(); s != "" {
		prog.funcNames[0] = s
	}
	return prog, nil
}

// lineOf formats the BTF line info that applies at slot pc the way the
// kernel's verbose_linfo does ("src @ file:line"), "" when none.
func (p *program) lineOf(pc int) string {
	for i := pc; i >= 0; i-- {
		if l := p.insns[i].line; l != nil {
			return fmt.Sprintf("%s @ %s:%d", strings.TrimLeft(l.Line(), " \t"), path.Base(l.FileName()), l.LineNumber())
		}
		if p.isSubprogStart(i) && i != pc {
			break
		}
	}
	return ""
}

// lineAt is the line info attached to exactly slot pc (kernel prints a
// line only when it changes).
func (p *program) lineAt(pc int) *btf.Line {
	if pc < 0 || pc >= len(p.insns) {
		return nil
	}
	return p.insns[pc].line
}

func (p *program) isSubprogStart(pc int) bool {
	for _, s := range p.subprogs {
		if s == pc {
			return true
		}
	}
	return false
}
