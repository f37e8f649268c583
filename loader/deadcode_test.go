package loader

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
)

func TestReachableSlots(t *testing.T) {
	x := asm.Mov.Imm(asm.R9, 42) // the instruction whose reachability is asked
	jmp := func(op asm.JumpOp, dst asm.Register, imm int32, off int16) asm.Instruction {
		ins := op.Imm(dst, imm, "")
		ins.Offset = off
		return ins
	}
	jmp32 := func(op asm.JumpOp, dst asm.Register, imm int32, off int16) asm.Instruction {
		ins := op.Imm32(dst, imm, "")
		ins.Offset = off
		return ins
	}
	tests := []struct {
		name  string
		insns asm.Instructions
		xSlot int
		want  bool
	}{
		{"constant false guard", asm.Instructions{asm.Mov.Imm(asm.R1, 0), jmp(asm.JEq, asm.R1, 0, 1), x, asm.Return()}, 2, false},
		{"constant true guard", asm.Instructions{asm.Mov.Imm(asm.R1, 1), jmp32(asm.JEq, asm.R1, 0, 1), x, asm.Return()}, 2, true},
		{"unknown register", asm.Instructions{asm.LoadMem(asm.R1, asm.R2, 0, asm.Word), jmp(asm.JEq, asm.R1, 0, 1), x, asm.Return()}, 2, true},
		{"signed compare", asm.Instructions{asm.Mov.Imm(asm.R1, -1), jmp(asm.JSLT, asm.R1, 0, 1), x, asm.Return()}, 2, false},
		{"unsigned compare of -1", asm.Instructions{asm.Mov.Imm(asm.R1, -1), jmp(asm.JLT, asm.R1, 0, 1), x, asm.Return()}, 2, true},
		{"32-bit view of a 64-bit constant", asm.Instructions{asm.LoadImm(asm.R1, 1<<32, asm.DWord), jmp32(asm.JEq, asm.R1, 0, 1), x, asm.Return()}, 3, false},
		{"copy of a constant", asm.Instructions{asm.Mov.Imm(asm.R1, 0), asm.Mov.Reg(asm.R2, asm.R1), jmp(asm.JNE, asm.R2, 0, -3), jmp(asm.JEq, asm.R2, 0, 1), x, asm.Return()}, 4, false},
		{"arithmetic forgets", asm.Instructions{asm.Mov.Imm(asm.R1, 0), asm.Add.Imm(asm.R1, 0), jmp(asm.JEq, asm.R1, 0, 1), x, asm.Return()}, 3, true},
		{"helper call clobbers r1", asm.Instructions{asm.Mov.Imm(asm.R1, 0), asm.FnKtimeGetNs.Call(), jmp(asm.JEq, asm.R1, 0, 1), x, asm.Return()}, 3, true},
		{"helper call keeps r6", asm.Instructions{asm.Mov.Imm(asm.R6, 0), asm.FnKtimeGetNs.Call(), jmp(asm.JEq, asm.R6, 0, 1), x, asm.Return()}, 3, false},
		{"paths that disagree", asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), asm.Mov.Imm(asm.R3, 0), jmp(asm.JEq, asm.R2, 0, 1), asm.Mov.Imm(asm.R3, 1),
			jmp(asm.JEq, asm.R3, 0, 1), x, asm.Return()}, 5, true},
		{"paths that agree", asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), asm.Mov.Imm(asm.R3, 0), jmp(asm.JEq, asm.R2, 0, 1), asm.Mov.Imm(asm.R3, 0),
			jmp(asm.JEq, asm.R3, 0, 1), x, asm.Return()}, 5, false},
		{"after exit", asm.Instructions{asm.Return(), x, asm.Return()}, 1, false},
		{"callee", asm.Instructions{asm.Call.Label("f"), asm.Return(), x.WithSymbol("f"), asm.Return()}, 2, true},
		{"uncalled function", asm.Instructions{asm.Return(), x.WithSymbol("f"), asm.Return()}, 1, false},
		{"callback", asm.Instructions{
			asm.LoadImm(asm.R2, -1, asm.DWord).WithReference("cb"), asm.Return(), x.WithSymbol("cb"), asm.Return()}, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "callback" {
				tt.insns[0].Src = asm.PseudoFunc
			}
			r := reachableSlots(tt.insns)
			assert.Equal(t, tt.want, r[tt.xSlot])
			assert.True(t, r[0])
		})
	}
}

// FuzzReachableSlots feeds arbitrary instruction streams to the
// reachability analysis: it must not panic and must mark the entry.
func FuzzReachableSlots(f *testing.F) {
	seed := asm.Instructions{asm.Mov.Imm(asm.R1, 0), asm.JEq.Imm(asm.R1, 0, ""), asm.Return()}
	seed[1].Offset = 1
	var buf bytes.Buffer
	if err := seed.Marshal(&buf, binary.LittleEndian); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		insns, err := asm.AppendInstructions(nil, bytes.NewReader(data), binary.LittleEndian, "linux")
		if err != nil || len(insns) == 0 {
			return
		}
		r := reachableSlots(insns)
		if !r[0] {
			t.Fatal("entry not reachable")
		}
	})
}
