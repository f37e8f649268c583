package bpf

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

// TestCallbackHelpers runs callbacks.o on the vm alone (where the kernel
// differential test cannot load BPF) against the results Linux 6.18 gave
// for the same inputs, and checks what only the vm can show: the CPU a
// per-CPU walk sees, and that a walk and a loop run inside the program's
// budget.
func TestCallbackHelpers(t *testing.T) {
	cpu := 1
	ec := loadObject(t, "callbacks.o", Env{CPU: func(*vm.Machine) int { return cpu }})
	m := ec.space.NewMachine()
	fill := func() { fillCallbackMaps(t, func(n string) kvMap { return ec.maps[n] }, 2) }
	never := ^uint32(0)
	tests := []struct {
		name  string
		in    cbIn
		check func(t *testing.T, o cbOut)
	}{
		{name: "five rounds", in: cbIn{NrLoops: 5, LoopBreak: never}, check: func(t *testing.T, o cbOut) {
			// As the kernel recorded it.
			assert.Equal(t, cbOut{LoopRet: 5, LoopCalls: 5, LoopSum: 10, LoopLookups: 100,
				Arr:      cbWalk{Ret: 8, Calls: 8, Keys: 28, Vals: 280, After: 8, AfterVals: 316},
				Hash:     cbWalk{Ret: 10, Calls: 10, Keys: 55, Vals: 5500, After: 10, AfterVals: 5565},
				PcpuArr:  cbWalk{Ret: 4, Calls: 4, Keys: 6, Vals: 46, After: 4, AfterVals: 56},
				PcpuHash: cbWalk{Ret: 3, Calls: 3, Keys: 12, Vals: 36, After: 3, AfterVals: 51},
				LRU:      cbWalk{Ret: 6, Calls: 6, Keys: 21, Vals: 21, After: 6, AfterVals: 48},
				E2big:    1<<32 - 7, Einval: -22}, o)
			var per []uint64
			require.NoError(t, ec.maps["pcpu_arr"].Lookup(uint32(3), &per))
			assert.Equal(t, []uint64{22, 22 + 4}, per, "only the running CPU's value changed")
		}},
		{name: "break", in: cbIn{NrLoops: 1 << 23, LoopBreak: 2}, check: func(t *testing.T, o cbOut) {
			assert.Equal(t, int64(3), o.LoopRet)
			assert.Equal(t, uint64(0+1+2), o.LoopSum)
		}},
		{name: "flags", in: cbIn{LoopFlags: 1, EachFlags: 2}, check: func(t *testing.T, o cbOut) {
			assert.Equal(t, int64(-22), o.LoopRet)
			for _, w := range []cbWalk{o.Arr, o.Hash, o.PcpuArr, o.PcpuHash, o.LRU} {
				assert.Equal(t, int64(-22), w.Ret)
				assert.Zero(t, w.Calls)
			}
		}},
		{name: "delete while walking", in: cbIn{NrLoops: 1, LoopBreak: never, DelMod: 3}, check: func(t *testing.T, o cbOut) {
			assert.Equal(t, int64(10), o.Hash.Ret, "every element visited once")
			assert.Equal(t, int64(7), o.Hash.After, "3, 6 and 9 deleted")
			assert.Equal(t, int64(4), o.LRU.After, "3 and 6 deleted")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fill()
			require.NoError(t, ec.maps["cb_in"].Put(uint32(0), tc.in))
			require.Equal(t, int64(1), ec.run(t, m, "callbacks"))
			var o cbOut
			require.NoError(t, ec.maps["cb_out"].Lookup(uint32(0), &o))
			tc.check(t, o)
		})
	}
}

// TestForEachRefusesOtherMaps: the verifier accepts
// bpf_for_each_map_elem only on maps with a for_each callback.
func TestForEachRefusesOtherMaps(t *testing.T) {
	for _, typ := range []Spec{
		{Name: "q", Type: ebpf.Queue, ValueSize: 4, MaxEntries: 2},
		{Name: "rb", Type: ebpf.RingBuf, MaxEntries: 4096},
	} {
		mp, err := New(typ, Options{})
		require.NoError(t, err, typ.Name)
		reg := NewRegistry()
		hnd, err := reg.Add(mp)
		require.NoError(t, err)
		_, h := BaseHelpers(Env{Registry: reg})
		_, err = h.forEachMapElem(vm.NewSpace().NewMachine(), hnd, vm.FuncAddr(1), 0, 0, 0)
		require.ErrorContains(t, err, "rejected by the verifier", typ.Name)
	}
}
