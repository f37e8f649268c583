package verifiercorpus

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Insn is an instruction in the JSON form the fuzzer saves programs in:
// the raw fields, and the symbol and reference names that stand for map
// file descriptors and bpf-to-bpf call offsets.
type Insn struct {
	Op  uint32 `json:"op"`
	Dst uint8  `json:"dst"`
	Src uint8  `json:"src"`
	Off int16  `json:"off"`
	Imm int64  `json:"imm"`
	Ref string `json:"ref,omitempty"`
	Sym string `json:"sym,omitempty"`
	// Text is the instruction as cilium/ebpf prints it, for reading only.
	Text string `json:"text,omitempty"`
}

// EncodeInsns converts instructions to their JSON form.
func EncodeInsns(insns asm.Instructions) []Insn {
	out := make([]Insn, len(insns))
	for i, ins := range insns {
		out[i] = Insn{
			Op: uint32(ins.OpCode), Dst: uint8(ins.Dst), Src: uint8(ins.Src), Off: ins.Offset, Imm: ins.Constant,
			Ref: ins.Reference(), Sym: ins.Symbol(), Text: fmt.Sprint(ins),
		}
	}
	return out
}

// DecodeInsns converts the JSON form back to instructions.
func DecodeInsns(in []Insn) asm.Instructions {
	out := make(asm.Instructions, len(in))
	for i, j := range in {
		ins := asm.Instruction{OpCode: asm.OpCode(j.Op), Dst: asm.Register(j.Dst), Src: asm.Register(j.Src), Offset: j.Off, Constant: j.Imm}
		if j.Ref != "" {
			ins = ins.WithReference(j.Ref)
		}
		if j.Sym != "" {
			ins = ins.WithSymbol(j.Sym)
		}
		out[i] = ins
	}
	return out
}

// MapDesc describes a map a saved program references.
type MapDesc struct {
	Name       string       `json:"name"`
	Type       ebpf.MapType `json:"type"`
	KeySize    uint32       `json:"key_size"`
	ValueSize  uint32       `json:"value_size"`
	MaxEntries uint32       `json:"max_entries"`
	Flags      uint32       `json:"flags,omitempty"`
}

// Saved is a program the fuzzer found a disagreement on, replayable: its
// type, its instructions, the maps it references, and both verdicts.
type Saved struct {
	// Origin says where the program came from: "mutant of OBJ/PROG" or
	// "generated".
	Origin     string           `json:"origin"`
	Type       ebpf.ProgramType `json:"type"`
	AttachType ebpf.AttachType  `json:"attach_type"`
	License    string           `json:"license,omitempty"`
	Maps       []MapDesc        `json:"maps"`
	Insns      []Insn           `json:"insns"`
	Kernel     Verdict          `json:"kernel"`
	Skmsg      Verdict          `json:"skmsg"`
	// KernelLog is the kernel's whole verifier log when it refused.
	KernelLog []string `json:"kernel_log,omitempty"`
	// SkmsgLog is skmsg's verifier log.
	SkmsgLog string `json:"skmsg_log,omitempty"`
}

// ReadSaved reads a program the fuzzer saved.
func ReadSaved(path string) (*Saved, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read saved program: %w", err)
	}
	var s Saved
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse saved program %s: %w", path, err)
	}
	return &s, nil
}

// WriteFile writes the saved program as indented JSON.
func (s *Saved) WriteFile(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode saved program: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write saved program: %w", err)
	}
	return nil
}
