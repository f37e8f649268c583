package vm_test

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

// fnLoop is a bpf_loop-like test helper: it calls r2(i, r3) for i in
// [0, r1) until the callback returns non-zero, and returns the number of
// calls made; a callback error is returned unchanged.
const fnLoop = asm.FnLoop

func loopHelpers() vm.Helpers {
	return vm.Helpers{
		fnLoop: {Name: "loop", Fn: func(m *vm.Machine, n, fn, ctx, _, _ uint64) (uint64, error) {
			for i := uint64(0); i < n; i++ {
				r, err := m.CallFunc(fn, i, ctx, 0, 0, 0)
				if err != nil {
					return r, err
				}
				if r != 0 {
					return i + 1, nil
				}
			}
			return n, nil
		}},
		asm.FnKtimeGetNs: {Name: "ktime_get_ns", Fn: func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
			if r1 == 99 {
				return 4242, vm.ErrStop
			}
			return 1, nil
		}},
	}
}

// funcPtr is the LD_IMM64 the loader leaves for a callback argument.
func funcPtr(dst asm.Register, name string) asm.Instruction {
	ins := asm.LoadImm(dst, -1, asm.DWord)
	ins.Src = asm.PseudoFunc
	return ins.WithReference(name)
}

// loopProg: r6..r9 and a stack slot of the entry frame must survive the
// loop; the callback adds index+1 to the u64 that ctx points to (the
// caller's stack) and stops after `stop` rounds when stop != 0.
func loopProg(cb asm.Instructions) asm.Instructions {
	p := asm.Instructions{
		asm.Mov.Imm(asm.R6, 66),
		asm.Mov.Imm(asm.R9, 99),
		asm.Mov.Imm(asm.R4, 0),
		asm.StoreMem(asm.RFP, -8, asm.R4, asm.DWord),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -8),
		asm.Mov.Reg(asm.R7, asm.R1), // loop count from the run's argument
		funcPtr(asm.R2, "cb"),
		asm.Mov.Reg(asm.R1, asm.R7),
		fnLoop.Call(),
		asm.LoadMem(asm.R1, asm.RFP, -8, asm.DWord),
		asm.LSh.Imm(asm.R1, 16),
		asm.Add.Reg(asm.R0, asm.R1), // r0 = sum<<16 + iterations
		jump(asm.JNE.Imm(asm.R6, 66, ""), 2),
		jump(asm.JNE.Imm(asm.R9, 99, ""), 1),
		asm.Return(),
		asm.Mov.Imm(asm.R0, -1),
		asm.Return(),
	}
	return append(p, cb...)
}

// jump sets the offset of a jump (the vm reads offsets, not labels).
func jump(ins asm.Instruction, off int16) asm.Instruction {
	ins.Offset = off
	return ins
}

// sumCB adds index+1 to *ctx, clobbering r6..r9 and its own stack.
var sumCB = asm.Instructions{
	asm.Mov.Imm(asm.R6, 0).WithSymbol("cb"),
	asm.Mov.Imm(asm.R9, 0),
	asm.StoreImm(asm.RFP, -8, 12345, asm.Word),
	asm.LoadMem(asm.R3, asm.R2, 0, asm.DWord),
	asm.Add.Reg(asm.R3, asm.R1),
	asm.Add.Imm(asm.R3, 1),
	asm.StoreMem(asm.R2, 0, asm.R3, asm.DWord),
	asm.Mov.Imm(asm.R0, 0),
	jump(asm.JLT.Imm(asm.R1, 3, ""), 1),
	asm.Mov.Imm(asm.R0, 1), // break after index 3
	asm.Return(),
}

func TestCallFunc(t *testing.T) {
	null := asm.Instructions{
		asm.Mov.Imm(asm.R2, 0).WithSymbol("cb"),
		asm.LoadMem(asm.R0, asm.R2, 0, asm.DWord),
		asm.Return(),
	}
	spin := asm.Instructions{
		jump(asm.Ja.Label(""), -1).WithSymbol("cb"),
		asm.Return(),
	}
	// The callback calls the loop helper with itself: every level is a frame.
	recurse := asm.Instructions{
		asm.Mov.Imm(asm.R1, 1).WithSymbol("cb"),
		funcPtr(asm.R2, "cb"),
		fnLoop.Call(),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}
	stop := asm.Instructions{
		asm.Mov.Imm(asm.R1, 99).WithSymbol("cb"),
		asm.FnKtimeGetNs.Call(),
		asm.Return(),
	}
	deref := asm.Instructions{ // loads through the function pointer itself
		funcPtr(asm.R2, "cb").WithSymbol("cb"),
		asm.LoadMem(asm.R0, asm.R2, 0, asm.Byte),
		asm.Return(),
	}
	tests := []struct {
		name   string
		cb     asm.Instructions
		arg    uint64
		budget uint64
		want   uint64
		check  func(t *testing.T, err error)
	}{
		{name: "two rounds", cb: sumCB, arg: 2, want: (1+2)<<16 | 2},
		{name: "break", cb: sumCB, arg: 10, want: (1+2+3+4)<<16 | 4},
		{name: "zero rounds", cb: sumCB, arg: 0, want: 0},
		{name: "fault in callback", cb: null, arg: 1, check: func(t *testing.T, err error) {
			var f *vm.Fault
			require.ErrorAs(t, err, &f)
			assert.Equal(t, vm.FaultUnmapped, f.Kind)
			assert.Equal(t, 20, f.PC, "the load inside the callback")
			var he *vm.HelperError
			assert.False(t, errors.As(err, &he), "reported as the fault, not as a helper failure: %v", err)
		}},
		{name: "function pointer is not memory", cb: deref, arg: 1, check: func(t *testing.T, err error) {
			var f *vm.Fault
			require.ErrorAs(t, err, &f)
			assert.Equal(t, vm.FaultUnmapped, f.Kind)
			assert.Equal(t, vm.FuncAddr(19), f.Addr)
		}},
		{name: "budget in callback", cb: spin, arg: 1, budget: 500, check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, vm.ErrBudget)
			var re *vm.RunError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 19, re.PC, "inside the callback")
		}},
		// 10 instructions up to the helper call, 10 in the callback.
		{name: "budget ends at the callback's exit", cb: sumCB, arg: 1, budget: 20, check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, vm.ErrBudget)
			var re *vm.RunError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 11, re.PC, "the callback returned; the caller ran out")
		}},
		{name: "budget ends before the callback's exit", cb: sumCB, arg: 1, budget: 19, check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, vm.ErrBudget)
			var re *vm.RunError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 29, re.PC, "the callback's exit")
		}},
		{name: "budget just enough", cb: sumCB, arg: 1, budget: 26, want: 1<<16 | 1},
		{name: "depth", cb: recurse, arg: 1, check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, vm.ErrCallDepth)
			var re *vm.RunError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 22, re.PC, "the helper call of the deepest callback")
		}},
		{name: "ErrStop in callback", cb: stop, arg: 3, want: 4242},
	}
	for _, tc := range tests {
		for _, traced := range []bool{false, true} {
			name := tc.name
			if traced {
				name += "/traced"
			}
			t.Run(name, func(t *testing.T) {
				space := vm.NewSpace()
				p, err := vm.Prepare(space, "loop", loopProg(tc.cb), vm.Options{Helpers: loopHelpers(), Budget: tc.budget})
				require.NoError(t, err)
				m := space.NewMachine()
				rec := &recorder{}
				if traced {
					m.SetTracer(rec)
				}
				r0, err := m.Run(p, tc.arg)
				if tc.check != nil {
					require.Error(t, err)
					tc.check(t, err)
				} else {
					require.NoError(t, err)
					assert.Equal(t, tc.want, r0)
				}
				if tc.budget != 0 {
					assert.Equal(t, tc.budget, m.Executed(), "callback instructions count toward the budget")
				}
				if traced {
					assert.Equal(t, m.Executed(), uint64(len(rec.steps)), "every executed instruction is traced")
				}
				// The machine is usable again afterwards.
				_, err = m.Run(p, 0)
				require.NoError(t, err)
			})
		}
	}
}

func TestCallFuncTrace(t *testing.T) {
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "loop", loopProg(sumCB), vm.Options{Helpers: loopHelpers()})
	require.NoError(t, err)
	m := space.NewMachine()
	r0, err := m.Run(p, 2)
	require.NoError(t, err)
	untraced := m.Executed()

	rec := &recorder{}
	m.SetTracer(rec)
	r0t, err := m.Run(p, 2)
	require.NoError(t, err)
	require.Equal(t, r0, r0t)
	require.Equal(t, untraced, m.Executed(), "same count traced and not")

	const cbStart = 19 // after 18 instructions, one of them an LD_IMM64
	var callbackSteps, loopCall int
	for i, s := range rec.steps {
		inCB := s.PC >= cbStart
		if inCB {
			callbackSteps++
			assert.Equal(t, 1, s.Frame, "step %d at pc %d", i, s.PC)
		} else {
			assert.Equal(t, 0, s.Frame, "step %d at pc %d", i, s.PC)
		}
		if s.Insn.IsBuiltinCall() {
			loopCall = i
		}
	}
	assert.Equal(t, 2*10, callbackSteps, "two rounds of 10 instructions")
	require.Len(t, rec.helpers, 1)
	assert.Equal(t, "loop", rec.helpers[0].Helper.Name)
	assert.Equal(t, uint64(2), rec.helpers[0].Ret)
	assert.Equal(t, 9+2*10, loopCall, "the helper's own step comes after its callbacks")
	// The callback's stores are seen, into the caller's stack.
	var sawStackWrite bool
	for _, w := range rec.mems {
		if w.Value == 3 && w.Region == "stack" {
			sawStackWrite = true
		}
	}
	assert.True(t, sawStackWrite)
}

func TestCallFuncRejects(t *testing.T) {
	helpers := vm.Helpers{
		fnLoop: {Name: "loop", Fn: func(m *vm.Machine, fn, _, _, _, _ uint64) (uint64, error) {
			return m.CallFunc(fn, 0, 0, 0, 0, 0)
		}},
	}
	cb := asm.Instructions{asm.Mov.Imm(asm.R0, 5).WithSymbol("cb"), asm.Return()}
	tests := []struct {
		name string
		load asm.Instructions // computes r1 from the function pointer in r1
		want uint64
		err  error
	}{
		{name: "valid", want: 5},
		{name: "offset", load: asm.Instructions{asm.Add.Imm(asm.R1, 1)}, err: vm.ErrNotFunc},
		{name: "integer", load: asm.Instructions{asm.Mov.Imm(asm.R1, 3)}, err: vm.ErrNotFunc},
		{name: "entry", load: asm.Instructions{asm.Sub.Imm(asm.R1, 3)}, err: vm.ErrNotFunc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			insns := asm.Instructions{funcPtr(asm.R1, "cb")}
			insns = append(insns, tc.load...)
			insns = append(insns, fnLoop.Call(), asm.Return())
			insns = append(insns, cb...)
			space := vm.NewSpace()
			p, err := vm.Prepare(space, "rej", insns, vm.Options{Helpers: helpers})
			require.NoError(t, err)
			r0, err := space.NewMachine().Run(p, 0)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				var he *vm.HelperError
				require.ErrorAs(t, err, &he, "a bad pointer is the helper's failure")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, r0)
		})
	}
	// Outside a run.
	m := vm.NewSpace().NewMachine()
	_, err := m.CallFunc(vm.FuncAddr(0), 0, 0, 0, 0, 0)
	require.ErrorIs(t, err, vm.ErrNotFunc)
}

func TestPrepareFuncPointers(t *testing.T) {
	numeric := func(dst asm.Register, rel int64) asm.Instruction {
		ins := asm.LoadImm(dst, rel, asm.DWord)
		ins.Src = asm.PseudoFunc
		return ins
	}
	tests := []struct {
		name   string
		insns  asm.Instructions
		target int    // slot the pointer must name
		reason string // or the rejection
	}{
		{name: "symbolic", insns: asm.Instructions{
			funcPtr(asm.R0, "f"), asm.Return(),
			asm.Mov.Imm(asm.R0, 1).WithSymbol("f"), asm.Return(),
		}, target: 3},
		{name: "numeric", insns: asm.Instructions{
			numeric(asm.R0, 2), asm.Return(),
			asm.Mov.Imm(asm.R0, 1), asm.Return(),
		}, target: 3},
		// "main" carries a symbol, so the stream is symbolic and the
		// unnamed target is refused.
		{name: "numeric, unnamed target", insns: asm.Instructions{
			jump(asm.Ja.Label(""), 2),
			asm.Mov.Imm(asm.R0, 1), asm.Return(),
			numeric(asm.R0, -3).WithSymbol("main"), asm.Return(),
		}, reason: "not the start of a function"},
		{name: "unknown symbol", insns: asm.Instructions{
			funcPtr(asm.R0, "nope"), asm.Return(),
		}, reason: `unknown function "nope"`},
		{name: "out of range", insns: asm.Instructions{
			numeric(asm.R0, 100), asm.Return(),
		}, reason: "out of range"},
		{name: "middle of a function", insns: asm.Instructions{
			numeric(asm.R0, 3), asm.Return(),
			asm.Mov.Imm(asm.R0, 1).WithSymbol("f"), asm.Return(),
		}, reason: "not the start of a function"},
		{name: "middle of LD_IMM64", insns: asm.Instructions{
			numeric(asm.R0, 3), asm.Return(),
			asm.LoadImm(asm.R0, 1, asm.DWord), asm.Return(),
		}, reason: "middle of an LD_IMM64"},
		{name: "falls into the callback", insns: asm.Instructions{
			numeric(asm.R0, 1),
			asm.Mov.Imm(asm.R0, 1), asm.Return(),
		}, reason: "falls through into function"},
		{name: "jump into the callback", insns: asm.Instructions{
			numeric(asm.R0, 3), jump(asm.JEq.Imm(asm.R0, 0, ""), 1), asm.Return(),
			asm.Mov.Imm(asm.R0, 1).WithSymbol("x"), asm.Return(),
		}, reason: "leaves the function"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resolved := false
			opts := vm.Options{ResolveImm64: func(int, asm.Instruction) (uint64, error) {
				resolved = true
				return 0, errors.New("embedder asked")
			}}
			p, err := vm.Prepare(vm.NewSpace(), tc.name, tc.insns, opts)
			assert.False(t, resolved, "function pointers never reach ResolveImm64")
			if tc.reason != "" {
				var pe *vm.ProgramError
				require.ErrorAs(t, err, &pe)
				assert.Contains(t, pe.Reason, tc.reason)
				return
			}
			require.NoError(t, err)
			r0, err := p.Space().NewMachine().Run(p, 0)
			require.NoError(t, err)
			require.Equal(t, vm.FuncAddr(tc.target), r0)
		})
	}
}

func TestCallFuncNoAllocations(t *testing.T) {
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "loop", loopProg(sumCB), vm.Options{Helpers: loopHelpers()})
	require.NoError(t, err)
	m := space.NewMachine()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := m.Run(p, 3); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

// BenchmarkCallFunc measures one callback round trip (helper to callee and
// back) against a bpf-to-bpf call of the same callee in the same run.
func BenchmarkCallFunc(b *testing.B) {
	cb := asm.Instructions{
		asm.Mov.Reg(asm.R0, asm.R1).WithSymbol("cb"),
		asm.And.Imm(asm.R0, 0),
		asm.Return(),
	}
	const rounds = 1000
	viaHelper := append(asm.Instructions{
		asm.Mov.Imm(asm.R1, rounds),
		funcPtr(asm.R2, "cb"),
		asm.Mov.Imm(asm.R3, 0),
		fnLoop.Call(),
		asm.Return(),
	}, cb...)
	viaCall := append(asm.Instructions{
		asm.Mov.Imm(asm.R6, rounds),
		asm.Mov.Imm(asm.R1, 0).WithSymbol("again"),
		asm.Call.Label("cb"),
		asm.Sub.Imm(asm.R6, 1),
		jump(asm.JNE.Imm(asm.R6, 0, ""), -4),
		asm.Return(),
	}, cb...)
	for _, bc := range []struct {
		name  string
		insns asm.Instructions
	}{{"bpf_loop", viaHelper}, {"bpf_call", viaCall}} {
		b.Run(bc.name, func(b *testing.B) {
			space := vm.NewSpace()
			p, err := vm.Prepare(space, bc.name, bc.insns, vm.Options{Helpers: loopHelpers()})
			require.NoError(b, err)
			m := space.NewMachine()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Run(p, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rounds), "ns/call")
		})
	}
}
