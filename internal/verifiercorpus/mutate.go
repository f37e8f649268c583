package verifiercorpus

import (
	"math/rand/v2"

	"github.com/cilium/ebpf/asm"
)

// Mutate returns a copy of insns with one to three instruction-level
// mutations. Every mutation keeps each instruction's width, so jump and
// call offsets elsewhere stay right; jumps it retargets stay inside their
// function. It never rewrites a map load's reference or a bpf-to-bpf
// call, except to swap the map for another of maps.
func Mutate(r *rand.Rand, insns asm.Instructions, maps []string) asm.Instructions {
	out := make(asm.Instructions, len(insns))
	copy(out, insns)
	if len(out) == 0 {
		return out
	}
	slots, funcOf, funcs := layout(out)
	n := 1 + r.IntN(3)
	for k := 0; k < n; k++ {
		i := r.IntN(len(out))
		mutateOne(r, out, i, slots, funcOf, funcs, maps)
	}
	return out
}

// layout returns each instruction's slot, the function each belongs to
// (a new one starts at every symbol) and the instruction range of each.
func layout(insns asm.Instructions) (slots []int, funcOf []int, funcs [][2]int) {
	slots = make([]int, len(insns)+1)
	funcOf = make([]int, len(insns))
	s, f := 0, -1
	for i, ins := range insns {
		if i == 0 || ins.Symbol() != "" {
			f++
			funcs = append(funcs, [2]int{i, len(insns)})
			if f > 0 {
				funcs[f-1][1] = i
			}
		}
		funcOf[i] = f
		slots[i] = s
		s += int(ins.Width())
	}
	slots[len(insns)] = s
	return slots, funcOf, funcs
}

var edgeImms = []int64{0, 1, -1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 63, 64, 255, 256, 0xffff, 0x7fffffff, -0x80000000, 0xffffffff}

func mutateOne(r *rand.Rand, out asm.Instructions, i int, slots, funcOf []int, funcs [][2]int, maps []string) {
	ins := &out[i]
	cls := ins.OpCode.Class()
	switch {
	case ins.IsLoadFromMap():
		if len(maps) > 1 && ins.Reference() != "" {
			*ins = ins.WithReference(maps[r.IntN(len(maps))])
		}
		return
	case ins.IsFunctionCall() || ins.IsLoadOfFunctionPointer() || ins.OpCode.IsDWordLoad():
		return
	}
	switch r.IntN(9) {
	case 0: // an immediate nudged or set to an edge value
		switch r.IntN(3) {
		case 0:
			ins.Constant += int64(r.IntN(5)) - 2
		default:
			ins.Constant = edgeImms[r.IntN(len(edgeImms))]
		}
		if ins.IsBuiltinCall() && r.IntN(2) == 0 {
			ins.Constant = int64(r.IntN(212))
		}
	case 1: // an offset nudged (memory) or retargeted (jumps)
		if cls.IsJump() && ins.OpCode.JumpOp() != asm.Exit && ins.OpCode.JumpOp() != asm.Call {
			fn := funcs[funcOf[i]]
			t := fn[0] + r.IntN(fn[1]-fn[0])
			ins.Offset = int16(slots[t] - slots[i] - 1)
		} else {
			ins.Offset += int16([]int{-8, -4, -1, 1, 4, 8}[r.IntN(6)])
		}
	case 2: // a register changed
		reg := asm.Register(r.IntN(11))
		if r.IntN(2) == 0 {
			ins.Dst = reg
		} else {
			ins.Src = reg
		}
	case 3: // another ALU operator, or the other ALU width
		if cls.IsALU() && ins.OpCode.ALUOp() != asm.Swap {
			if r.IntN(3) == 0 {
				if cls == asm.ALUClass {
					ins.OpCode = asm.OpCode(asm.ALU64Class).SetALUOp(ins.OpCode.ALUOp()).SetSource(ins.OpCode.Source())
				} else {
					ins.OpCode = asm.OpCode(asm.ALUClass).SetALUOp(ins.OpCode.ALUOp()).SetSource(ins.OpCode.Source())
				}
			} else {
				ins.OpCode = ins.OpCode.SetALUOp(aluOps[r.IntN(len(aluOps))])
			}
		}
	case 4: // another comparison, or the other jump width
		if cls.IsJump() {
			op := ins.OpCode.JumpOp()
			if op == asm.Exit || op == asm.Call || op == asm.Ja {
				return
			}
			if r.IntN(3) == 0 {
				c := asm.JumpClass
				if cls == asm.JumpClass {
					c = asm.Jump32Class
				}
				ins.OpCode = asm.OpCode(c).SetJumpOp(op).SetSource(ins.OpCode.Source())
			} else {
				ins.OpCode = ins.OpCode.SetJumpOp(condOps[r.IntN(len(condOps))])
			}
		}
	case 5: // another access size
		if (cls == asm.LdXClass || cls == asm.StXClass || cls == asm.StClass) && ins.OpCode.Mode() == asm.MemMode {
			ins.OpCode = ins.OpCode.SetSize(sizes[r.IntN(len(sizes))])
		}
	case 6: // the instruction turned into a no-op jump, a move, or exit;
		// its metadata (function symbol, line info) stays with the slot:
		// the kernel wants line info at each function's first instruction
		meta := ins.Metadata
		switch r.IntN(3) {
		case 0:
			*ins = asm.Ja.Label("")
			ins.Offset = 0
		case 1:
			*ins = asm.Mov.Imm(asm.Register(r.IntN(10)), int32(edgeImms[r.IntN(len(edgeImms))]))
		default:
			*ins = asm.Return()
		}
		ins.Metadata = meta
	case 7: // two neighbours swapped (when neither is a jump or wide)
		j := i + 1
		if j < len(out) && funcOf[j] == funcOf[i] && !cls.IsJump() && !out[j].OpCode.Class().IsJump() &&
			ins.Width() == out[j].Width() && ins.Symbol() == "" && out[j].Symbol() == "" {
			out[i], out[j] = out[j], out[i]
		}
	case 8: // the source switched between immediate and register
		if cls.IsALU() || (cls.IsJump() && ins.OpCode.JumpOp() != asm.Exit && ins.OpCode.JumpOp() != asm.Call && ins.OpCode.JumpOp() != asm.Ja) {
			if ins.OpCode.Source() == asm.ImmSource {
				ins.OpCode = ins.OpCode.SetSource(asm.RegSource)
				ins.Src = asm.Register(r.IntN(11))
			} else {
				ins.OpCode = ins.OpCode.SetSource(asm.ImmSource)
				ins.Constant = edgeImms[r.IntN(len(edgeImms))]
			}
		}
	}
}
