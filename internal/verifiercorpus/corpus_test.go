package verifiercorpus

import (
	"math/rand/v2"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
)

func TestReason(t *testing.T) {
	for _, tt := range []struct {
		name string
		log  []string
		want string
		insn int
	}{
		{
			name: "the line before the summary",
			log: []string{"0: R1=ctx() R10=fp0", "0: (61) r0 = *(u32 *)(r1 +4)", "invalid bpf_context access off=4 size=4",
				"processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0"},
			want: "invalid bpf_context access off=4 size=4", insn: 0,
		},
		{
			name: "infinite loop state dumps skipped",
			log: []string{"1: (05) goto pc-1", "infinite loop detected at insn 1", "cur state: R0=1 R10=fp0", "old state: R0=1 R10=fp0",
				"processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0"},
			want: "infinite loop detected at insn 1", insn: 1,
		},
		{
			name: "a reason printed without its newline",
			log:  []string{"3: (85) call bpf_tail_call#12", "expected prog array map for tail callprocessed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0"},
			want: "expected prog array map for tail call", insn: 3,
		},
		{
			name: "no instruction",
			log:  []string{"unreachable insn 2", "processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0"},
			want: "unreachable insn 2", insn: -1,
		},
		{name: "empty", want: "", insn: -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Reason(tt.log))
			require.Equal(t, tt.insn, FailingInsn(tt.log))
		})
	}
}

// checkJumps requires every jump to land on an instruction of the
// program (not inside an LD_IMM64) and the last instruction to be an
// exit or a jump. A mutant (toEnd) may also jump to the end of the
// program and end with anything: its last exit may have become another
// instruction, which the kernel refuses on purpose.
func checkJumps(t *testing.T, insns asm.Instructions, toEnd bool) {
	t.Helper()
	slots, _, _ := layout(insns)
	starts := map[int]bool{slots[len(insns)]: toEnd}
	for i := range insns {
		starts[slots[i]] = true
	}
	for i, ins := range insns {
		if !ins.OpCode.Class().IsJump() || ins.OpCode.JumpOp() == asm.Exit || ins.OpCode.JumpOp() == asm.Call {
			continue
		}
		target := slots[i] + 1 + int(ins.Offset)
		require.True(t, starts[target], "instruction %d (%v) jumps to slot %d, which starts no instruction:\n%v", i, ins, target, insns)
	}
	if !toEnd {
		last := insns[len(insns)-1]
		require.True(t, last.OpCode.Class().IsJump(), "the last instruction is %v, not an exit or jump", last)
	}
}

func TestGenerateWellFormed(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, kind := range Kinds {
		t.Run(kind.Name, func(t *testing.T) {
			for i := 0; i < 300; i++ {
				insns := Generate(r, kind)
				checkJumps(t, insns, false)
				for _, ins := range insns {
					require.NotEqual(t, asm.InvalidOpCode, ins.OpCode, "invalid instruction in\n%v", insns)
				}
			}
		})
	}
}

func TestMutateKeepsLayout(t *testing.T) {
	cases, err := Cases()
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		c := cases[r.IntN(len(cases))]
		m := Mutate(r, c.Prog.Instructions, c.Prog.Maps)
		require.Len(t, m, len(c.Prog.Instructions), "%s: mutation changed the instruction count", c.Key())
		for j := range m {
			require.Equal(t, c.Prog.Instructions[j].Width(), m[j].Width(), "%s: instruction %d changed width", c.Key(), j)
			require.Equal(t, c.Prog.Instructions[j].Symbol(), m[j].Symbol(), "%s: instruction %d lost its symbol", c.Key(), j)
		}
		checkJumps(t, m, true)
	}
}

func TestInsnJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	insns := Generate(r, Kinds[0])
	back := DecodeInsns(EncodeInsns(insns))
	require.Len(t, back, len(insns))
	for i := range insns {
		require.Equal(t, insns[i].OpCode, back[i].OpCode)
		require.Equal(t, insns[i].Dst, back[i].Dst)
		require.Equal(t, insns[i].Src, back[i].Src)
		require.Equal(t, insns[i].Offset, back[i].Offset)
		require.Equal(t, insns[i].Constant, back[i].Constant)
		require.Equal(t, insns[i].Reference(), back[i].Reference())
	}
}
