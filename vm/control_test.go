package vm_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

func TestBudget(t *testing.T) {
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "spin", assemble(t, "mov %r0, 0\nloop:\nadd %r0, 1\nja loop"), vm.Options{Budget: 1000})
	require.NoError(t, err)
	m := space.NewMachine()
	_, err = m.Run(p, 0)
	require.ErrorIs(t, err, vm.ErrBudget)
	var re *vm.RunError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "spin", re.Program)
	assert.Contains(t, []int{1, 2}, re.PC)
	assert.Equal(t, uint64(1000), m.Executed())

	m.SetBudget(10)
	_, err = m.Run(p, 0)
	require.ErrorIs(t, err, vm.ErrBudget)
	assert.Equal(t, uint64(10), m.Executed())

	// The default budget applies when neither sets one.
	p, err = vm.Prepare(space, "spin", assemble(t, "loop:\nja loop"), vm.Options{})
	require.NoError(t, err)
	m.SetBudget(0)
	_, err = m.Run(p, 0)
	require.ErrorIs(t, err, vm.ErrBudget)
	assert.Equal(t, uint64(vm.DefaultBudget), m.Executed())
}

func TestExecutedCountsExactly(t *testing.T) {
	space := vm.NewSpace()
	// 1 + 10*(2) + 1 (fallthrough) + 1 = counted by hand: mov, then ten
	// rounds of sub+jne, then exit.
	p := prepare(t, space, "mov %r0, 10\nloop:\nsub %r0, 1\njne %r0, 0, loop\nlddw %r1, 5\nexit", vm.Options{})
	m := space.NewMachine()
	_, err := m.Run(p, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(1+10*2+1+1), m.Executed())
}

func TestLocalCalls(t *testing.T) {
	// r6..r9 survive calls; the callee gets its own stack frame.
	src := `
mov %r6, 6
stdw [%r10-8], 100
mov %r1, 5
call local double
ldxdw %r1, [%r10-8]
add %r0, %r1
add %r0, %r6
exit
double:
stdw [%r10-8], 1
mov %r6, 0
mov %r0, %r1
add %r0, %r1
exit`
	r0, err := run(t, src, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(10+100+6), r0)
}

func TestCallDepth(t *testing.T) {
	// f(n) calls itself n times: depth n+1 frames.
	src := `
call local f
exit
f:
jeq %r1, 0, done
sub %r1, 1
call local f
add %r0, 1
exit
done:
mov %r0, 0
exit`
	space := vm.NewSpace()
	p := prepare(t, space, src, vm.Options{})
	m := space.NewMachine()
	// Entry + f with r1 = 6 .. 0 is 8 frames: allowed.
	r0, err := m.Run(p, 6)
	require.NoError(t, err)
	require.Equal(t, uint64(6), r0)
	_, err = m.Run(p, 7)
	require.ErrorIs(t, err, vm.ErrCallDepth)
	var re *vm.RunError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 4, re.PC, "the failing call")
}

func TestSymbolicCalls(t *testing.T) {
	// As cilium's ELF reader produces them: a call with Constant -1 naming
	// a symbol, after an LD_IMM64 so that slots and indexes differ.
	insns := asm.Instructions{
		asm.LoadImm(asm.R1, 0x100000000, asm.DWord),
		asm.Call.Label("add_one"),
		asm.Return(),
		asm.Mov.Reg(asm.R0, asm.R1).WithSymbol("add_one"),
		asm.Add.Imm(asm.R0, 1),
		asm.Return(),
	}
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "sym", insns, vm.Options{})
	require.NoError(t, err)
	require.Equal(t, 7, p.NumInsns())
	assert.Equal(t, 2, p.InsnIndex(3))
	assert.Equal(t, -1, p.InsnIndex(1), "second slot of LD_IMM64")
	r0, err := space.NewMachine().Run(p, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(0x100000001), r0)

	insns[1] = asm.Call.Label("missing")
	_, err = vm.Prepare(space, "sym", insns, vm.Options{})
	var pe *vm.ProgramError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 2, pe.PC)
	assert.Contains(t, pe.Reason, "missing")
}

func TestHelpers(t *testing.T) {
	var seen [5]uint64
	helpers := vm.Helpers{
		asm.FnKtimeGetNs: {Name: "ktime_get_ns", Fn: func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
			seen = [5]uint64{r1, r2, r3, r4, r5}
			return 1234, nil
		}},
		asm.FnTracePrintk: {Name: "trace_printk", Fn: func(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
			b, err := m.Bytes(r1, int(r2), vm.PermRead)
			if err != nil {
				return 0, err
			}
			return uint64(len(strings.TrimRight(string(b), "\x00"))), nil
		}},
		asm.FnGetPrandomU32: {Name: "get_prandom_u32", Fn: func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
			return 0, errors.New("no entropy")
		}},
	}
	space := vm.NewSpace()
	p := prepare(t, space, "mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 5\nexit", vm.Options{Helpers: helpers})
	m := space.NewMachine()
	r0, err := m.Run(p, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(1234), r0)
	require.Equal(t, [5]uint64{1, 2, 3, 4, 5}, seen)

	// A helper reading program memory; a bad pointer is a fault at the call.
	p = prepare(t, space, "stdw [%r10-8], 0x6968\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall 6\nexit", vm.Options{Helpers: helpers})
	r0, err = m.Run(p, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(2), r0)
	p = prepare(t, space, "mov %r1, 0\nmov %r2, 8\ncall 6\nexit", vm.Options{Helpers: helpers})
	_, err = m.Run(p, 0)
	var he *vm.HelperError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "trace_printk", he.Helper)
	assert.Equal(t, 2, he.PC)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	assert.Equal(t, 2, f.PC)
	assert.Equal(t, vm.FaultUnmapped, f.Kind)

	// A failing helper stops the program with its error.
	p = prepare(t, space, "call 7\nexit", vm.Options{Helpers: helpers})
	_, err = m.Run(p, 0)
	require.ErrorAs(t, err, &he)
	assert.Contains(t, err.Error(), "get_prandom_u32")
	assert.Contains(t, err.Error(), "no entropy")

	// callx names the helper by register.
	p = prepare(t, space, "mov %r3, 5\ncall %r3\nexit", vm.Options{Helpers: helpers})
	r0, err = m.Run(p, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(1234), r0)
	p = prepare(t, space, "mov %r3, 1\ncall %r3\nexit", vm.Options{Helpers: helpers})
	_, err = m.Run(p, 0)
	require.ErrorIs(t, err, vm.ErrUnknownHelper)
}

func TestErrStop(t *testing.T) {
	helpers := vm.Helpers{1: {Name: "abort", Fn: func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return 77, vm.ErrStop
	}}}
	space := vm.NewSpace()
	// Stopping from a nested frame ends the whole program.
	p := prepare(t, space, "call local f\nmov %r0, 1\nexit\nf:\ncall 1\nmov %r0, 2\nexit", vm.Options{Helpers: helpers})
	r0, err := space.NewMachine().Run(p, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(77), r0)
}

func TestTailCalls(t *testing.T) {
	space := vm.NewSpace()
	var progs []*vm.Program
	helpers := vm.Helpers{asm.FnTailCall: {Name: "tail_call", Fn: func(m *vm.Machine, ctx, _, idx, _, _ uint64) (uint64, error) {
		if idx >= uint64(len(progs)) {
			return ^uint64(1) /* -EINVAL-ish */, nil
		}
		if err := m.TailCall(progs[idx]); err != nil {
			if errors.Is(err, vm.ErrTailCallLimit) {
				return ^uint64(0), nil
			}
			return 0, err
		}
		return 0, nil
	}}}
	// Program 0 counts in ctx memory and tail-calls itself forever; the
	// kernel stops the chain after 33 tail calls and the call falls through.
	loop := prepare(t, space, `
ldxdw %r2, [%r1+0]
add %r2, 1
stxdw [%r1+0], %r2
mov %r3, 0
call 12
mov %r0, 500
exit`, vm.Options{Helpers: helpers})
	// Program 1 tail-calls program 2 from a subprogram; program 2's exit
	// returns to the subprogram's caller.
	viaSub := prepare(t, space, `
call local sub
add %r0, 1000
exit
sub:
mov %r3, 2
call 12
mov %r0, 1
exit`, vm.Options{Helpers: helpers})
	leaf := prepare(t, space, "ldxdw %r0, [%r1+0]\nexit", vm.Options{Helpers: helpers})
	progs = []*vm.Program{loop, viaSub, leaf}

	m := space.NewMachine()
	ctx := make([]byte, 8)
	addr := m.AddRegion(vm.Region{Name: "ctx", Data: ctx, Perm: vm.PermRW})
	r0, err := m.Run(loop, addr)
	require.NoError(t, err)
	require.Equal(t, uint64(500), r0)
	require.Equal(t, byte(vm.MaxTailCalls+1), ctx[0], "the entry run plus 33 tail calls")

	ctx[0] = 42
	r0, err = m.Run(viaSub, addr)
	require.NoError(t, err)
	require.Equal(t, uint64(1042), r0)
	require.Nil(t, m.Program(), "no program outside Run")

	require.Error(t, m.TailCall(leaf), "tail call outside a helper")
	other := vm.NewSpace()
	foreign := prepare(t, other, "mov %r0, 0\nexit", vm.Options{})
	_, err = m.Run(foreign, 0)
	require.Error(t, err, "program of another space")
}

func TestValidation(t *testing.T) {
	helpers := vm.Helpers{asm.FnMapLookupElem: {Name: "map_lookup_elem", Fn: func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) { return 0, nil }}}
	raw := func(words ...uint64) asm.Instructions {
		t.Helper()
		b := make([]byte, 8*len(words))
		for i, w := range words {
			for j := 0; j < 8; j++ {
				b[8*i+j] = byte(w >> (8 * j))
			}
		}
		insns, err := asm.AppendInstructions(nil, strings.NewReader(string(b)), nativeEndian, "linux")
		require.NoError(t, err)
		return insns
	}
	cases := []struct {
		name   string
		insns  asm.Instructions
		pc     int
		reason string
	}{
		{"empty", asm.Instructions{}, 0, "empty"},
		{"fall off the end", assemble(t, "mov %r0, 0"), 0, "falls off the end"},
		{"conditional at end", assemble(t, "mov %r0, 0\njeq %r0, 0, -2"), 1, "falls off the end"},
		{"jump out of range", assemble(t, "ja +5\nexit"), 0, "out of range"},
		{"jump backwards out", assemble(t, "ja -2\nexit"), 0, "out of range"},
		{"jump into LD_IMM64", assemble(t, "ja +1\nlddw %r0, 1\nexit"), 0, "middle of an LD_IMM64"},
		{"write to r10", assemble(t, "mov %r10, 0\nexit"), 0, "r10 is read only"},
		{"load into r10", assemble(t, "ldxdw %r10, [%r1+0]\nexit"), 0, "r10 is read only"},
		{"bad register", raw(0xb7|0x0b<<8, 0x95), 0, "invalid destination register r11"},
		{"bad opcode", raw(0xff, 0x95), 0, "invalid"},
		{"legacy packet load", raw(0x20, 0x95), 0, "legacy"},
		{"bad byte swap width", raw(0xdc|8<<32, 0x95), 0, "width 8"},
		{"helper not allowed", assemble(t, "call 12\nexit"), 0, "FnTailCall"},
		{"unknown helper", assemble(t, "call 99999\nexit"), 0, "not allowed"},
		{"local call out of range", assemble(t, "call local x\nexit\nx:"), 0, ""},
		{"function falls through", assemble(t, "call local f\nexit\nf:\nmov %r0, 1"), 2, "falls off the end"},
		{"jump across functions", assemble(t, "call local f\nja g\ng:\nexit\nf:\nja g"), 3, "leaves the function"},
		{"pseudo LD_IMM64 without resolver", asm.Instructions{asm.LoadMapPtr(asm.R1, 3), asm.Return()}, 0, "cannot be resolved"},
		{"kfunc", raw(0x85|2<<12, 0x95), 0, "kfunc"},
		{"may_goto", raw(0xe5, 0x95), 0, "may_goto"},
		{"ALU reserved offset", raw(0x07|5<<16, 0x95), 0, "reserved"},
		{"32-bit movsx32", raw(0xbc|32<<16|1<<12, 0x95), 0, "reserved"},
		{"atomic on bytes", raw(0xd3|1<<12, 0x95), 0, "atomic operand size"},
		{"fetch into r10", raw(0xdb|10<<12|1<<32, 0x95), 0, "r10"},
		{"bad atomic op", raw(0xdb|0x33<<32, 0x95), 0, "invalid atomic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := vm.Prepare(vm.NewSpace(), "bad", c.insns, vm.Options{Helpers: helpers})
			var pe *vm.ProgramError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, c.pc, pe.PC)
			assert.Equal(t, "bad", pe.Program)
			assert.Contains(t, pe.Reason, c.reason)
			assert.Contains(t, err.Error(), fmt.Sprintf("pc %d", c.pc))
		})
	}
}

func TestResolveImm64(t *testing.T) {
	var got []string
	opts := vm.Options{ResolveImm64: func(pc int, ins asm.Instruction) (uint64, error) {
		got = append(got, fmt.Sprintf("%d:%s", pc, ins.Reference()))
		if ins.Reference() == "bad" {
			return 0, errors.New("no such map")
		}
		return 0xabc, nil
	}}
	insns := asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),
		asm.LoadMapPtr(asm.R2, 0).WithReference("counters"),
		asm.Mov.Reg(asm.R0, asm.R2),
		asm.Return(),
	}
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "maps", insns, opts)
	require.NoError(t, err)
	require.Equal(t, []string{"1:counters"}, got)
	r0, err := space.NewMachine().Run(p, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(0xabc), r0)

	insns[1] = insns[1].WithReference("bad")
	_, err = vm.Prepare(space, "maps", insns, opts)
	var pe *vm.ProgramError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 1, pe.PC)
	assert.Contains(t, pe.Reason, "no such map")
}

func TestHelperSeesMachine(t *testing.T) {
	space := vm.NewSpace()
	var inner *vm.Program
	var regs [vm.NumRegs]uint64
	var cur *vm.Program
	var nested error
	helpers := vm.Helpers{1: {Name: "probe", Fn: func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
		regs = m.Regs()
		cur = m.Program()
		_, nested = m.Run(inner, 0)
		return 0, nil
	}}}
	p := prepare(t, space, "mov %r7, 77\ncall 1\nexit", vm.Options{Helpers: helpers})
	inner = p
	m := space.NewMachine()
	_, err := m.Run(p, 5)
	require.NoError(t, err)
	assert.Equal(t, uint64(77), regs[7])
	assert.Equal(t, uint64(5), regs[1])
	assert.Equal(t, vm.Addr(vm.StackRegion, vm.StackSize*vm.MaxCallDepth), regs[10])
	assert.Same(t, p, cur)
	require.Error(t, nested, "Run from a helper on the same machine")
	assert.Contains(t, nested.Error(), "already running")
}
