package bpf

import (
	"encoding/binary"
	"testing"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/vm"
)

// fakeSock is how the test hands sockets to programs: an address in a
// region no machine maps, resolved by Env.Socket.
const fakeSock = 0xABCD_0000_0000

func runMsg(t *testing.T, c *collection, m *vm.Machine, prog string, sk uint64) int64 {
	t.Helper()
	m.Reset()
	ctx := make([]byte, 80)
	binary.NativeEndian.PutUint64(ctx[72:], sk)
	addr := m.AddRegion(vm.Region{Name: "ctx", Data: ctx, Perm: vm.PermRead})
	ret, err := m.Run(c.progs[prog], addr)
	require.NoError(t, err, prog)
	return int64(int32(ret))
}

func results(t *testing.T, c *collection) []uint64 {
	t.Helper()
	out := make([]uint64, 16)
	for i := range out {
		require.NoError(t, c.maps["results"].Lookup(uint32(i), &out[i]))
	}
	return out
}

func TestEventHelpers(t *testing.T) {
	clock := &FakeClock{Start: 3_000_000_000, Step: 1_000_000}
	env := Env{
		Clock:   clock,
		CPU:     func(*vm.Machine) int { return 1 },
		PidTgid: 42<<32 | 43,
		UidGid:  1000<<32 | 1000,
		Socket: func(_ *vm.Machine, sk uint64) (uint64, bool) {
			if sk&^0xFFFF != fakeSock {
				return 0, false
			}
			return sk & 0xFFFF, true
		},
	}
	c := loadObject(t, "events.o", env)
	m := c.space.NewMachine()
	require.NoError(t, c.maps["pcpu"].Put(uint32(0), []uint64{10, 20}))
	want := NewSeededRand(0)

	sockA, sockB := uint64(fakeSock|1), uint64(fakeSock|2)
	for run, tc := range []struct {
		sk    uint64
		n     uint64
		avail uint64
	}{{sockA, 1, 16}, {sockA, 2, 32}, {sockA, 3, 48}, {sockA, 1, 64}, {sockB, 1, 80}} {
		require.Equal(t, int64(1), runMsg(t, c, m, "msg_events", tc.sk), "run %d", run)
		r := results(t, c)
		assert.Equal(t, tc.n, r[0], "run %d: socket storage counter", run)
		assert.Equal(t, tc.avail, r[1], "run %d: ring buffer bytes not consumed", run)
		assert.Equal(t, uint64(0), r[2], "perf output on the current CPU")
		assert.Equal(t, negErrno(errno.E2BIG), r[3], "perf output past the array")
		assert.Equal(t, uint64(10+20+1000), r[4], "CPU 2 does not exist")
		assert.Equal(t, negErrno(errno.EFAULT), r[5])
		assert.Equal(t, uint64(0), r[6], "probe_read_kernel zeroes its destination")
		assert.Greater(t, r[8], uint64(0))
		assert.Equal(t, r[8]/tickNS*tickNS, r[8], "coarse clock is tick-aligned")
		assert.Equal(t, initialJiffies+r[8]/tickNS+1, r[9], "jiffies64 is read one 1ms clock step after the coarse clock")
		assert.Equal(t, uint64(want.Uint32()), r[10], "seeded prandom sequence")
		assert.Equal(t, env.PidTgid, r[11])
		assert.Equal(t, env.UidGid, r[12])
		if tc.n == 3 {
			assert.Equal(t, uint64(0), r[14], "sk_storage_delete")
		}
	}
	// Odd counters were submitted, even ones discarded.
	var got []uint64
	for _, rec := range c.maps["ring"].(*RingBuf).Records() {
		got = append(got, binary.NativeEndian.Uint64(rec))
	}
	assert.Equal(t, []uint64{1, 3, 1, 1}, got)
	samples, lost := c.maps["perf"].(*PerfArray).Records()
	assert.Zero(t, lost)
	require.Len(t, samples, 5)
	assert.Equal(t, 1, samples[0].CPU)
	assert.Equal(t, uint64(0xabc2), binary.NativeEndian.Uint64(samples[1].Data))
	// A program without a socket gets no storage.
	assert.Equal(t, int64(0), runMsg(t, c, m, "msg_events", 0x1234))
}

// TestTailCallChain compares how many times a program that tail-calls
// itself runs on the kernel and on the vm.
func TestTailCallChain(t *testing.T) {
	c := loadObject(t, "events.o", Env{})
	require.NoError(t, c.maps["chain"].Update(uint32(0), c.progs["chain_self"], UpdateAny))
	ret := c.run(t, c.space.NewMachine(), "chain_self")
	var hops uint64
	require.NoError(t, c.maps["results"].Lookup(uint32(15), &hops))
	assert.Equal(t, int64(7), ret, "the last tail call fails and falls through")

	kernelMapsAllowed(t)
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("maps", "events.o"))
	require.NoError(t, err)
	delete(spec.Programs, "msg_events") // needs an attach target
	delete(spec.Maps, "sk_store")       // needs BTF for the value
	kc := kernelCollection(t, spec)
	defer kc.Close()
	require.NoError(t, kc.Maps["chain"].Put(uint32(0), kc.Programs["chain_self"]))
	kret, err := kc.Programs["chain_self"].Run(&ebpf.RunOptions{Data: make([]byte, 64)})
	require.NoError(t, err)
	var khops uint64
	require.NoError(t, kc.Maps["results"].Lookup(uint32(15), &khops))
	assert.Equal(t, int64(kret), ret, "return value")
	assert.Equal(t, khops, hops, "runs in the chain")
	t.Logf("kernel: %d runs, return %d", khops, kret)
}

// TestEventsObjectMaps creates every map of events.o from the ELF's specs,
// both as they are (what a loader passing cilium/ebpf's fields through
// hands over: the perf event array has value size 0) and through
// FromMapSpec, as libbpf-built loaders do for the kernel; and a perf event
// array without max_entries gets one entry per CPU.
func TestEventsObjectMaps(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("maps", "events.o"))
	require.NoError(t, err)
	require.Zero(t, spec.Maps["perf"].ValueSize, "the ELF reader drops the perf event array's value type")
	opts := Options{NumCPU: 3}
	for name, ms := range spec.Maps {
		raw := Spec{Name: ms.Name, Type: ms.Type, KeySize: ms.KeySize, ValueSize: ms.ValueSize, MaxEntries: ms.MaxEntries, Flags: ms.Flags}
		conv, err := FromMapSpec(ms)
		require.NoError(t, err, name)
		for how, s := range map[string]Spec{"as parsed": raw, "FromMapSpec": conv} {
			m, err := New(s, opts)
			require.NoError(t, err, "%s %s", name, how)
			if ms.Type == ebpf.PerfEventArray {
				assert.Equal(t, [3]uint32{4, 4, 2}, [3]uint32{m.KeySize(), m.ValueSize(), m.MaxEntries()}, how)
			}
		}
	}
	tests := []struct {
		name string
		spec Spec
		want [3]uint32 // key size, value size, max entries; zero: EINVAL
	}{
		{"no max_entries", Spec{Type: ebpf.PerfEventArray}, [3]uint32{4, 4, 3}},
		{"declared sizes", Spec{Type: ebpf.PerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: 8}, [3]uint32{4, 4, 8}},
		{"value size 8 stays wrong", Spec{Type: ebpf.PerfEventArray, ValueSize: 8}, [3]uint32{}},
		{"key size 8 stays wrong", Spec{Type: ebpf.PerfEventArray, KeySize: 8}, [3]uint32{}},
		{"array keeps its checks", Spec{Type: ebpf.Array, ValueSize: 4, MaxEntries: 1}, [3]uint32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name = "m"
			m, err := New(tc.spec, opts)
			if tc.want == [3]uint32{} {
				require.ErrorIs(t, err, errno.EINVAL)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, [3]uint32{m.KeySize(), m.ValueSize(), m.MaxEntries()})
		})
	}
}
