package bpf

import (
	"fmt"
	"slices"
	"testing"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
)

// cbIn, cbWalk and cbOut mirror struct in, struct walk and struct out of
// callbacks.c.
type cbIn struct {
	NrLoops, LoopBreak   uint32
	LoopFlags, EachFlags uint64
	EachBreak, DelMod    uint32
}

type cbWalk struct {
	Ret               int64
	Calls, Keys, Vals uint64
	After             int64
	AfterVals         uint64
}

type cbOut struct {
	LoopRet                           int64
	LoopCalls, LoopSum, LoopLookups   uint64
	Arr, Hash, PcpuArr, PcpuHash, LRU cbWalk
	E2big, Einval                     int64
}

// kvMap is what cilium's *ebpf.Map and this package's Map share.
type kvMap interface {
	Put(key, value any) error
	Delete(key any) error
	NextKey(key, nextKeyOut any) error
	Lookup(key, valueOut any) error
}

// fillCallbackMaps gives the walked maps the same contents on either side;
// ncpu is the number of values of a per-CPU map there.
func fillCallbackMaps(t *testing.T, get func(string) kvMap, ncpu int) {
	t.Helper()
	for _, name := range []string{"hash", "pcpu_hash", "lru"} {
		m := get(name)
		var k uint32
		for m.NextKey(nil, &k) == nil {
			require.NoError(t, m.Delete(k))
		}
	}
	perCPU := func(v uint64) []uint64 { return slices.Repeat([]uint64{v}, ncpu) }
	for i := uint32(0); i < 8; i++ {
		require.NoError(t, get("arr").Put(i, uint64(i)*10))
	}
	for i := uint32(1); i <= 10; i++ {
		require.NoError(t, get("hash").Put(i, uint64(i)*100))
	}
	for i := uint32(0); i < 4; i++ {
		require.NoError(t, get("pcpu_arr").Put(i, perCPU(uint64(i)*7+1)))
	}
	for _, i := range []uint32{2, 4, 6} {
		require.NoError(t, get("pcpu_hash").Put(i, perCPU(uint64(i)*3)))
	}
	for i := uint32(1); i <= 6; i++ {
		require.NoError(t, get("lru").Put(i, uint64(i)))
	}
}

// dumpMap is the sorted contents of a map of u32 keys and u64 values.
func dumpMap(t *testing.T, m kvMap) []string {
	t.Helper()
	var out []string
	var k uint32
	err := m.NextKey(nil, &k)
	for err == nil {
		var v uint64
		require.NoError(t, m.Lookup(k, &v))
		out = append(out, fmt.Sprintf("%d=%d", k, v))
		err = m.NextKey(k, &k)
	}
	slices.Sort(out)
	return out
}

// TestKernelCallbackHelpers runs callbacks.o (bpf_loop and
// bpf_for_each_map_elem over an array, a hash, a per-CPU array, a per-CPU
// hash and an LRU hash) on the kernel and on the vm for each input and
// compares every result the program records and the maps' contents after.
func TestKernelCallbackHelpers(t *testing.T) {
	kernelMapsAllowed(t)
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("maps", "callbacks.o"))
	require.NoError(t, err)
	kc := kernelCollection(t, spec)
	defer kc.Close()
	kcpus, err := ebpf.PossibleCPU()
	require.NoError(t, err)
	ec := loadObject(t, "callbacks.o", Env{})
	m := ec.space.NewMachine()

	never := ^uint32(0)
	tests := []struct {
		name string
		in   cbIn
		// Walks that stop early see a prefix of the hash's order, which is
		// the kernel's bucket order: compare only how many they saw.
		ordered bool
	}{
		{name: "five rounds", in: cbIn{NrLoops: 5, LoopBreak: never}},
		{name: "no rounds", in: cbIn{NrLoops: 0, LoopBreak: never}},
		{name: "break at 3", in: cbIn{NrLoops: 10, LoopBreak: 3}},
		{name: "max loops, break", in: cbIn{NrLoops: 1 << 23, LoopBreak: 9}},
		{name: "loop flags", in: cbIn{NrLoops: 3, LoopBreak: never, LoopFlags: 1}},
		{name: "walk flags", in: cbIn{NrLoops: 1, LoopBreak: never, EachFlags: 1}},
		{name: "walk stops after 3", in: cbIn{NrLoops: 1, LoopBreak: never, EachBreak: 3}, ordered: true},
		{name: "walk stops after 1", in: cbIn{NrLoops: 1, LoopBreak: never, EachBreak: 1}, ordered: true},
		{name: "walk deletes", in: cbIn{NrLoops: 2, LoopBreak: never, DelMod: 2}},
		{name: "walk deletes all", in: cbIn{NrLoops: 2, LoopBreak: never, DelMod: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fillCallbackMaps(t, func(n string) kvMap { return kc.Maps[n] }, kcpus)
			require.NoError(t, kc.Maps["cb_in"].Put(uint32(0), tc.in))
			ret, err := kc.Programs["callbacks"].Run(&ebpf.RunOptions{Data: make([]byte, 64)})
			require.NoError(t, err)
			require.Equal(t, uint32(1), ret)
			var want cbOut
			require.NoError(t, kc.Maps["cb_out"].Lookup(uint32(0), &want))

			fillCallbackMaps(t, func(n string) kvMap { return ec.maps[n] }, 2)
			require.NoError(t, ec.maps["cb_in"].Put(uint32(0), tc.in))
			require.Equal(t, int64(1), ec.run(t, m, "callbacks"))
			var got cbOut
			require.NoError(t, ec.maps["cb_out"].Lookup(uint32(0), &got))

			if tc.ordered {
				for _, w := range []*cbWalk{&want.Hash, &want.PcpuHash, &want.LRU, &got.Hash, &got.PcpuHash, &got.LRU} {
					w.Keys, w.Vals, w.AfterVals = 0, 0, 0
				}
			}
			assert.Equal(t, want, got)
			for _, name := range []string{"arr", "hash", "lru"} {
				if tc.ordered && name != "arr" {
					continue
				}
				assert.Equal(t, dumpMap(t, kc.Maps[name]), dumpMap(t, ec.maps[name]), name)
			}
			if tc.name == "five rounds" {
				t.Logf("kernel: %+v", want)
			}
		})
	}
	// The errnos the kernel gave: -EINVAL from the helper, -E2BIG from the
	// loop the verifier inlined, which sets r0 with a 32-bit move.
	var out cbOut
	require.NoError(t, kc.Maps["cb_out"].Lookup(uint32(0), &out))
	assert.Equal(t, int64(1<<32-int64(errno.E2BIG)), out.E2big)
	assert.Equal(t, -int64(errno.EINVAL), out.Einval)
}
