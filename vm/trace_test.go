package vm_test

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

type recorder struct {
	steps   []vm.Step
	mems    []vm.MemWrite
	helpers []vm.HelperCall
}

func (r *recorder) Step(s *vm.Step) {
	c := *s
	if s.Mem != nil {
		r.mems = append(r.mems, *s.Mem)
		c.Mem = nil
	}
	r.steps = append(r.steps, c)
}

func (r *recorder) Helper(h *vm.HelperCall) { r.helpers = append(r.helpers, *h) }

func TestTracer(t *testing.T) {
	helpers := vm.Helpers{asm.FnKtimeGetNs: {Name: "ktime_get_ns", Fn: func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		return r1 * 2, nil
	}}}
	insns := asm.Instructions{
		asm.LoadImm(asm.R6, 0x1122334455, asm.DWord).WithSource(asm.Comment("x = 0x1122334455")),
		asm.StoreMem(asm.RFP, -8, asm.R6, asm.Word),
		asm.Mov.Imm(asm.R1, 21),
		asm.FnKtimeGetNs.Call(),
		asm.Call.Label("f"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 7).WithSymbol("f"),
		asm.Return(),
	}
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "traced", insns, vm.Options{Helpers: helpers})
	require.NoError(t, err)
	m := space.NewMachine()
	rec := &recorder{}
	m.SetTracer(rec)
	r0, err := m.Run(p, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(7), r0)

	var pcs, frames []int
	for _, s := range rec.steps {
		pcs = append(pcs, s.PC)
		frames = append(frames, s.Frame)
		assert.Same(t, p, s.Program)
	}
	assert.Equal(t, []int{0, 2, 3, 4, 5, 7, 8, 6}, pcs, "raw slot numbering")
	assert.Equal(t, []int{0, 0, 0, 0, 0, 1, 1, 0}, frames)
	assert.Equal(t, uint64(8), m.Executed())
	// Before/After registers.
	assert.Equal(t, uint64(0), rec.steps[0].Before[6])
	assert.Equal(t, uint64(0x1122334455), rec.steps[0].After[6])
	assert.Equal(t, "x = 0x1122334455", fmt.Sprint(rec.steps[0].Insn.Source()))
	assert.Equal(t, uint64(42), rec.steps[3].After[0])
	// The store.
	require.Len(t, rec.mems, 1)
	assert.Equal(t, vm.MemWrite{Addr: vm.Addr(vm.StackRegion, 4096-8), Size: 4, Value: 0x22334455, Region: "stack"}, rec.mems[0])
	// The helper call.
	require.Len(t, rec.helpers, 1)
	h := rec.helpers[0]
	assert.Equal(t, 4, h.PC)
	assert.Equal(t, "ktime_get_ns", h.Helper.Name)
	assert.Equal(t, uint64(21), h.Args[0])
	assert.Equal(t, uint64(42), h.Ret)
	assert.NoError(t, h.Err)

	// The traced run and the fast run agree on faults and budget.
	bad, err := vm.Prepare(space, "bad", assemble(t, "mov %r0, 1\nldxw %r0, [%r0+0]\nexit"), vm.Options{})
	require.NoError(t, err)
	_, errTraced := m.Run(bad, 0)
	m.SetTracer(nil)
	_, errFast := m.Run(bad, 0)
	require.Error(t, errTraced)
	assert.Equal(t, errFast.Error(), errTraced.Error())

	spin, err := vm.Prepare(space, "spin", assemble(t, "loop:\nja loop"), vm.Options{Budget: 50})
	require.NoError(t, err)
	m.SetTracer(rec)
	_, err = m.Run(spin, 0)
	require.ErrorIs(t, err, vm.ErrBudget)
	assert.Equal(t, uint64(50), m.Executed())
}

func TestNoAllocations(t *testing.T) {
	helpers := vm.Helpers{asm.FnKtimeGetNs: {Name: "ktime_get_ns", Fn: func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		return 1, nil
	}}}
	space := vm.NewSpace()
	space.AddGlobal(vm.Region{Name: ".bss", Data: make([]byte, 8), Perm: vm.PermRW})
	p := prepare(t, space, `
mov %r6, %r1
stdw [%r10-8], 1
ldxdw %r0, [%r10-8]
ldxw %r2, [%r6+0]
stxw [%r6+4], %r2
mov %r2, 1
lock add [%r6+8], %r2
call 5
call local f
exit
f:
mov %r0, 3
exit`, vm.Options{Helpers: helpers})
	m := space.NewMachine()
	data := make([]byte, 16)
	allocs := testing.AllocsPerRun(100, func() {
		m.Reset()
		addr := m.AddRegion(vm.Region{Name: "ctx", Data: data, Perm: vm.PermRW})
		if _, err := m.Run(p, addr); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}
