package bpf

import (
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/vm"
)

// Mirrors of mapops.c.
const (
	opLookup = iota + 1
	opUpdate
	opDelete
	opPush
	opPop
	opPeek
	opPercpu
)

const (
	mHash = iota
	mArray
	mPcpuHash
	mPcpuArray
	mHashNoPrealloc
	mQueue
	mStack
	mLPM
)

type scriptOp struct {
	Op, Map, Flags, Key uint32
	Value               uint64
}

type script struct {
	O [24]scriptOp
	N uint32
	_ uint32
}

type scriptRes struct {
	R [24]struct {
		Ret   int64
		Value uint64
	}
}

func lpmOpKey(plen uint32, addr uint32) uint32 { return plen<<24 | addr&0xFFFFFF }

func mapScripts() [][]scriptOp {
	keyed := func(m uint32) []scriptOp {
		return []scriptOp{
			{Op: opLookup, Map: m, Key: 1},
			{Op: opUpdate, Map: m, Key: 1, Value: 10, Flags: uint32(UpdateExist)},
			{Op: opUpdate, Map: m, Key: 1, Value: 11, Flags: uint32(UpdateNoExist)},
			{Op: opUpdate, Map: m, Key: 1, Value: 12, Flags: uint32(UpdateNoExist)},
			{Op: opLookup, Map: m, Key: 1},
			{Op: opUpdate, Map: m, Key: 2, Value: 20},
			{Op: opUpdate, Map: m, Key: 0, Value: 30},
			{Op: opUpdate, Map: m, Key: 3, Value: 40},
			{Op: opUpdate, Map: m, Key: 2, Value: 21, Flags: uint32(UpdateExist)},
			{Op: opLookup, Map: m, Key: 2},
			{Op: opUpdate, Map: m, Key: 2, Value: 22, Flags: 3},
			{Op: opUpdate, Map: m, Key: 2, Value: 22, Flags: uint32(UpdateLock)},
			{Op: opDelete, Map: m, Key: 2},
			{Op: opDelete, Map: m, Key: 2},
			{Op: opLookup, Map: m, Key: 2},
			{Op: opDelete, Map: m, Key: 7},
			{Op: opLookup, Map: m, Key: 7},
		}
	}
	percpu := func(m uint32) []scriptOp {
		return append(keyed(m),
			scriptOp{Op: opPercpu, Map: m, Key: 1, Flags: 0},
			scriptOp{Op: opPercpu, Map: m, Key: 1, Flags: 1},
			scriptOp{Op: opPercpu, Map: m, Key: 1, Flags: 2},
			scriptOp{Op: opPercpu, Map: m, Key: 9, Flags: 0},
		)
	}
	queue := func(m uint32) []scriptOp {
		return []scriptOp{
			{Op: opPop, Map: m}, {Op: opPeek, Map: m},
			{Op: opPush, Map: m, Value: 1}, {Op: opPush, Map: m, Value: 2}, {Op: opPush, Map: m, Value: 3},
			{Op: opPush, Map: m, Value: 4}, {Op: opPush, Map: m, Value: 4, Flags: uint32(UpdateNoExist)},
			{Op: opPush, Map: m, Value: 4, Flags: 4}, {Op: opPush, Map: m, Value: 5, Flags: uint32(UpdateExist)},
			{Op: opPeek, Map: m}, {Op: opPop, Map: m}, {Op: opPop, Map: m}, {Op: opPop, Map: m}, {Op: opPop, Map: m},
		}
	}
	lpm := []scriptOp{
		{Op: opUpdate, Map: mLPM, Key: lpmOpKey(8, 10), Value: 8},
		{Op: opUpdate, Map: mLPM, Key: lpmOpKey(16, 10|20<<8), Value: 16},
		{Op: opLookup, Map: mLPM, Key: lpmOpKey(24, 10|20<<8|30<<16)},
		{Op: opLookup, Map: mLPM, Key: lpmOpKey(24, 10|21<<8|30<<16)},
		{Op: opLookup, Map: mLPM, Key: lpmOpKey(24, 11)},
		{Op: opUpdate, Map: mLPM, Key: lpmOpKey(16, 10|20<<8), Value: 17, Flags: uint32(UpdateNoExist)},
		{Op: opUpdate, Map: mLPM, Key: lpmOpKey(16, 10|21<<8), Value: 17, Flags: uint32(UpdateExist)},
		{Op: opUpdate, Map: mLPM, Key: lpmOpKey(24, 1), Value: 1},
		{Op: opUpdate, Map: mLPM, Key: lpmOpKey(24, 2), Value: 2},
		{Op: opUpdate, Map: mLPM, Key: lpmOpKey(25, 2), Value: 2},
		{Op: opDelete, Map: mLPM, Key: lpmOpKey(8, 10)},
		{Op: opLookup, Map: mLPM, Key: lpmOpKey(24, 10|20<<8|30<<16)},
		{Op: opDelete, Map: mLPM, Key: lpmOpKey(8, 10)},
	}
	return [][]scriptOp{keyed(mHash), keyed(mArray), percpu(mPcpuHash), percpu(mPcpuArray), keyed(mHashNoPrealloc), queue(mQueue), queue(mStack), lpm}
}

// TestKernelProgramMapOps runs map operations from a program on the
// kernel (pinned to CPU 0) and on the vm (CPU 0) and compares every
// helper return value and looked-up value.
func TestKernelProgramMapOps(t *testing.T) {
	kernelMapsAllowed(t)
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("maps", "mapops.o"))
	require.NoError(t, err)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set unix.CPUSet
	set.Set(0)
	require.NoError(t, unix.SchedSetaffinity(0, &set))
	defer func() {
		var all unix.CPUSet
		for i := 0; i < runtime.NumCPU(); i++ {
			all.Set(i)
		}
		_ = unix.SchedSetaffinity(0, &all)
	}()

	total, diverged := 0, 0
	for si, ops := range mapScripts() {
		kc := kernelCollection(t, spec)
		ec := loadObject(t, "mapops.o", Env{CPU: func(*vm.Machine) int { return 0 }})

		var sc script
		copy(sc.O[:], ops)
		sc.N = uint32(len(ops))
		require.NoError(t, kc.Maps["script"].Put(uint32(0), sc))
		_, err = kc.Programs["mapops"].Run(&ebpf.RunOptions{Data: make([]byte, 64)})
		require.NoError(t, err)
		var want scriptRes
		require.NoError(t, kc.Maps["results"].Lookup(uint32(0), &want))
		kc.Close()

		require.NoError(t, ec.maps["script"].Put(uint32(0), sc))
		ec.run(t, ec.space.NewMachine(), "mapops")
		var got scriptRes
		require.NoError(t, ec.maps["results"].Lookup(uint32(0), &got))
		if testing.Verbose() {
			t.Logf("script %d kernel results: %v", si, want.R[:len(ops)])
		}
		for i, o := range ops {
			total++
			if !assert.Equal(t, want.R[i], got.R[i], "script %d op %d %+v", si, i, o) {
				diverged++
			}
		}
	}
	t.Logf("compared %d program-side map operations, %d diverged", total, diverged)
}
