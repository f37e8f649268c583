package vm_test

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

// breaker records what a debugger would see before each instruction.
type breaker struct {
	recorder
	ats    []vm.At
	stacks map[int][]vm.CallFrame // by the index in ats
	at     func(at *vm.At)
	done   []error
	r0s    []uint64
}

func (b *breaker) Done(m *vm.Machine, r0 uint64, err error) {
	b.done = append(b.done, err)
	b.r0s = append(b.r0s, r0)
}

func (b *breaker) Before(at *vm.At) {
	b.ats = append(b.ats, *at)
	if b.stacks == nil {
		b.stacks = map[int][]vm.CallFrame{}
	}
	b.stacks[len(b.ats)-1] = at.Machine.CallStack()
	if b.at != nil {
		b.at(at)
	}
}

// fixedCtx is an Accessor context: every field reads as its offset + 100.
type fixedCtx struct{}

func (fixedCtx) Load(off uint32, size int) (uint64, error) { return uint64(off) + 100, nil }
func (fixedCtx) Store(off uint32, size int, v uint64) error {
	return errors.New("read-only")
}

func TestBreakerSeesEachInstructionFirst(t *testing.T) {
	space := vm.NewSpace()
	p := prepare(t, space, `
mov %r6, 5
stdw [%r10-8], 7
call local f
exit
f:
mov %r6, 9
mov %r0, %r6
exit`, vm.Options{})
	m := space.NewMachine()
	b := &breaker{}
	var regsAtF [vm.NumRegs]uint64
	b.at = func(at *vm.At) {
		if at.PC == 4 {
			regsAtF = at.Machine.Regs()
		}
	}
	m.SetTracer(b)
	r0, err := m.Run(p, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(9), r0)

	var pcs, frames []int
	var executed []uint64
	for _, at := range b.ats {
		pcs = append(pcs, at.PC)
		frames = append(frames, at.Frame)
		executed = append(executed, at.Executed)
	}
	assert.Equal(t, []int{0, 1, 2, 4, 5, 6, 3}, pcs)
	assert.Equal(t, []int{0, 0, 0, 1, 1, 1, 0}, frames)
	assert.Equal(t, []uint64{0, 1, 2, 3, 4, 5, 6}, executed)
	require.Len(t, b.steps, len(b.ats), "one Before per Step")
	// Before sees the state the instruction finds: r6 was 5 before f's
	// first instruction, changed by it.
	assert.Equal(t, uint64(5), regsAtF[6])

	// Inside f: two frames, the caller at its call instruction with its
	// r6 saved and its stack one frame up.
	inner := b.stacks[4]
	require.Len(t, inner, 2)
	assert.Equal(t, 5, inner[0].PC)
	assert.Equal(t, 2, inner[1].PC)
	assert.False(t, inner[1].Callback)
	assert.Equal(t, uint64(5), inner[1].Saved[0])
	assert.Equal(t, inner[1].FP-vm.StackSize, inner[0].FP)
	// The caller's stack slot can be read at its own frame pointer.
	v, err := m.Peek(inner[1].FP-8, 8)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), v)
	assert.Nil(t, m.CallStack(), "no call stack outside a run")
	assert.Equal(t, []error{nil}, b.done, "Done once per run")
	assert.Equal(t, []uint64{9}, b.r0s)

	// A faulting run reports its error to Done.
	bad := prepare(t, space, "mov %r0, 1\nldxw %r0, [%r0+0]\nexit", vm.Options{})
	_, err = m.Run(bad, 0)
	require.Error(t, err)
	require.Len(t, b.done, 2)
	assert.Equal(t, err, b.done[1])
}

func TestBreakerInspectsMemory(t *testing.T) {
	space := vm.NewSpace()
	p := prepare(t, space, `
mov %r7, %r1
stdw [%r10-8], 0x1234
ldxw %r0, [%r7+4]
exit`, vm.Options{})
	m := space.NewMachine()
	b := &breaker{}
	type seen struct {
		ctxField, stack uint64
		ctxRegion       vm.RegionInfo
		stackRegion     vm.RegionInfo
		errs            []error
	}
	var s seen
	b.at = func(at *vm.At) {
		if at.PC != 3 {
			return
		}
		regs := at.Machine.Regs()
		var err error
		s.ctxField, err = at.Machine.Peek(regs[7]+4, 4)
		s.errs = append(s.errs, err)
		s.stack, err = at.Machine.Peek(regs[10]-8, 8)
		s.errs = append(s.errs, err)
		s.ctxRegion, _ = at.Machine.RegionAt(regs[7] + 4)
		s.stackRegion, _ = at.Machine.RegionAt(regs[10] - 8)
		_, err = at.Machine.Peek(0, 4)
		var f *vm.Fault
		if assert.ErrorAs(t, err, &f) {
			assert.Equal(t, vm.FaultUnmapped, f.Kind)
		}
		_, err = at.Machine.Peek(regs[10]-8, 3)
		assert.Error(t, err, "odd sizes are refused")
	}
	m.SetTracer(b)
	ctx := m.AddRegion(vm.Region{Name: "ctx", Access: fixedCtx{}, Size: 16, Perm: vm.PermRead})
	r0, err := m.Run(p, ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(104), r0)
	for _, err := range s.errs {
		require.NoError(t, err)
	}
	assert.Equal(t, uint64(104), s.ctxField, "through the accessor")
	assert.Equal(t, uint64(0x1234), s.stack)
	assert.Equal(t, vm.RegionInfo{ID: vm.RegionID(ctx >> vm.RegionShift), Name: "ctx", Offset: 4, Size: 16, Perm: vm.PermRead, Accessor: true}, s.ctxRegion)
	assert.Equal(t, "stack", s.stackRegion.Name)
	assert.Equal(t, uint32(vm.MaxCallDepth*vm.StackSize-8), s.stackRegion.Offset)
}

func TestBreakerCallbackFrames(t *testing.T) {
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "loop", loopProg(sumCB), vm.Options{Helpers: loopHelpers()})
	require.NoError(t, err)
	m := space.NewMachine()
	b := &breaker{}
	m.SetTracer(b)
	_, err = m.Run(p, 1)
	require.NoError(t, err)
	const cbStart, loopCall = 19, 10
	var checked bool
	for i, at := range b.ats {
		if at.PC != cbStart {
			continue
		}
		st := b.stacks[i]
		require.Len(t, st, 2)
		assert.True(t, st[1].Callback)
		assert.Equal(t, loopCall, st[1].PC, "the outer frame is at the helper call")
		assert.Equal(t, uint64(66), st[1].Saved[0])
		checked = true
	}
	assert.True(t, checked, "the callback ran")
	assert.Len(t, b.done, 1, "callbacks are no runs of their own")
}

func TestBreakerOnlyOnTracedRuns(t *testing.T) {
	// A Tracer without Before still works, and a plain run never calls
	// a breaker it does not have.
	space := vm.NewSpace()
	p := prepare(t, space, "mov %r0, 1\nexit", vm.Options{})
	m := space.NewMachine()
	rec := &recorder{}
	m.SetTracer(rec)
	_, err := m.Run(p, 0)
	require.NoError(t, err)
	assert.Len(t, rec.steps, 2)

	b := &breaker{}
	m.SetTracer(b)
	_, err = m.Run(p, 0)
	require.NoError(t, err)
	m.SetTracer(nil)
	_, err = m.Run(p, 0)
	require.NoError(t, err)
	assert.Len(t, b.ats, 2, "the untraced run called nothing")
	_ = asm.R0
}
