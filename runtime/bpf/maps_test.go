package bpf

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

func mustNew(t *testing.T, s Spec, ncpu int) Map {
	t.Helper()
	m, err := New(s, Options{NumCPU: ncpu})
	require.NoError(t, err)
	return m
}

func TestCreateChecks(t *testing.T) {
	inner := &Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	for _, tc := range []struct {
		name string
		spec Spec
		want syscall.Errno
	}{
		{"array ok", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 1, MaxEntries: 1}, 0},
		{"array key 8", Spec{Type: ebpf.Array, KeySize: 8, ValueSize: 4, MaxEntries: 1}, errno.EINVAL},
		{"array value 0", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 0, MaxEntries: 1}, errno.EINVAL},
		{"array max 0", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 4}, errno.EINVAL},
		{"array no prealloc", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}, errno.EINVAL},
		{"percpu array big", Spec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 32769, MaxEntries: 1}, errno.E2BIG},
		{"rdonly+wronly", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagRdonly | FlagWronly}, errno.EINVAL},
		{"hash ok", Spec{Type: ebpf.Hash, KeySize: 3, ValueSize: 5, MaxEntries: 2}, 0},
		{"hash key 0", Spec{Type: ebpf.Hash, KeySize: 0, ValueSize: 4, MaxEntries: 1}, errno.EINVAL},
		{"hash huge", Spec{Type: ebpf.Hash, KeySize: 4, ValueSize: 1 << 22, MaxEntries: 1}, errno.E2BIG},
		{"hash no common lru", Spec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoCommonLRU}, errno.EINVAL},
		{"lru no prealloc", Spec{Type: ebpf.LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}, errno.ENOTSUPP},
		{"lpm prealloc", Spec{Type: ebpf.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1}, errno.EINVAL},
		{"lpm key 4", Spec{Type: ebpf.LPMTrie, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}, errno.EINVAL},
		{"ringbuf 4096", Spec{Type: ebpf.RingBuf, MaxEntries: 4096}, 0},
		{"ringbuf 3000", Spec{Type: ebpf.RingBuf, MaxEntries: 3000}, errno.EINVAL},
		{"ringbuf 2048", Spec{Type: ebpf.RingBuf, MaxEntries: 2048}, errno.EINVAL},
		{"queue key", Spec{Type: ebpf.Queue, KeySize: 4, ValueSize: 4, MaxEntries: 1}, errno.EINVAL},
		{"prog array value 8", Spec{Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}, errno.EINVAL},
		{"sk storage prealloc", Spec{Type: ebpf.SkStorage, KeySize: 4, ValueSize: 4}, errno.EINVAL},
		{"sk storage ok", Spec{Type: ebpf.SkStorage, KeySize: 4, ValueSize: 4, Flags: FlagNoPrealloc}, 0},
		{"array of maps", Spec{Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMap: inner}, 0},
		{"array of maps no inner", Spec{Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1}, errno.EBADF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.spec, Options{NumCPU: 2})
			assert.Equal(t, tc.want, Errno(err), "%v", err)
		})
	}
}

// op is one step of a scripted map test.
type op struct {
	do    string // update, lookup, delete, next
	key   []byte
	val   []byte
	flags uint64
	want  syscall.Errno
	out   []byte // expected lookup value or next key
}

func run(t *testing.T, m Map, ops []op) {
	t.Helper()
	for i, o := range ops {
		var err error
		var got []byte
		switch o.do {
		case "update":
			err = m.UpdateBytes(o.key, o.val, o.flags)
		case "lookup":
			got, err = m.LookupBytes(o.key)
		case "delete":
			err = m.DeleteBytes(o.key)
		case "next":
			got = make([]byte, m.KeySize())
			err = m.NextKeyBytes(o.key, got)
		case "push":
			err = m.(Queue).Push(o.val, o.flags)
		case "pop", "peek":
			got = make([]byte, m.ValueSize())
			if o.do == "pop" {
				err = m.(Queue).Pop(got)
			} else {
				err = m.(Queue).Peek(got)
			}
		}
		require.Equal(t, o.want, Errno(err), "step %d %s %x: %v", i, o.do, o.key, err)
		if o.want == 0 && o.out != nil {
			require.Equal(t, o.out, got, "step %d %s %x", i, o.do, o.key)
		}
	}
}

func TestArray(t *testing.T) {
	m := mustNew(t, Spec{Name: "a", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 3}, 1)
	run(t, m, []op{
		{do: "lookup", key: u32(0), out: u32(0)},
		{do: "update", key: u32(1), val: u32(7)},
		{do: "lookup", key: u32(1), out: u32(7)},
		{do: "update", key: u32(1), val: u32(8), flags: UpdateNoExist, want: errno.EEXIST},
		{do: "update", key: u32(1), val: u32(9), flags: UpdateExist},
		{do: "lookup", key: u32(1), out: u32(9)},
		{do: "update", key: u32(3), val: u32(1), want: errno.E2BIG},
		{do: "update", key: u32(0), val: u32(1), flags: 3, want: errno.EINVAL},
		{do: "update", key: u32(0), val: u32(1), flags: UpdateLock, want: errno.EINVAL},
		{do: "lookup", key: u32(3), want: errno.ENOENT},
		{do: "delete", key: u32(0), want: errno.EINVAL},
		{do: "next", key: nil, out: u32(0)},
		{do: "next", key: u32(0), out: u32(1)},
		{do: "next", key: u32(2), want: errno.ENOENT},
		{do: "next", key: u32(100), out: u32(0)},
	})
	// The lookup result is the live value.
	v, err := m.LookupBytes(u32(2))
	require.NoError(t, err)
	v[0] = 42
	var got uint32
	require.NoError(t, m.Lookup(uint32(2), &got))
	assert.Equal(t, uint32(42), got)
}

func TestHash(t *testing.T) {
	m := mustNew(t, Spec{Name: "h", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2}, 1)
	run(t, m, []op{
		{do: "next", key: nil, want: errno.ENOENT},
		{do: "lookup", key: u32(1), want: errno.ENOENT},
		{do: "update", key: u32(1), val: u64(10), flags: UpdateExist, want: errno.ENOENT},
		{do: "update", key: u32(1), val: u64(10), flags: UpdateNoExist},
		{do: "update", key: u32(1), val: u64(11), flags: UpdateNoExist, want: errno.EEXIST},
		{do: "update", key: u32(2), val: u64(20)},
		{do: "update", key: u32(3), val: u64(30), want: errno.E2BIG},
		{do: "update", key: u32(2), val: u64(21)}, // replacing works when full
		{do: "lookup", key: u32(2), out: u64(21)},
		{do: "update", key: u32(2), val: u64(21), flags: 4 | 8, want: errno.EINVAL},
		{do: "next", key: nil, out: u32(1)},
		{do: "next", key: u32(1), out: u32(2)},
		{do: "next", key: u32(2), want: errno.ENOENT},
		{do: "next", key: u32(9), out: u32(1)},
		{do: "delete", key: u32(9), want: errno.ENOENT},
		{do: "delete", key: u32(1)},
		{do: "update", key: u32(3), val: u64(30)},
	})
	var keys []uint32
	var k uint32
	var v uint64
	it := m.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
	}
	require.NoError(t, it.Err())
	assert.Equal(t, []uint32{2, 3}, keys)
}

func TestHashReplaceKeepsOldValue(t *testing.T) {
	m := mustNew(t, Spec{Name: "h", Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 2}, 1)
	require.NoError(t, m.Put(uint32(1), uint32(1)))
	held, err := m.LookupBytes(u32(1))
	require.NoError(t, err)
	require.NoError(t, m.Put(uint32(1), uint32(2)))
	require.NoError(t, m.Delete(uint32(1)))
	assert.Equal(t, u32(1), held, "a value a program holds is not reused")
}

func TestPerCPU(t *testing.T) {
	for _, typ := range []ebpf.MapType{ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := mustNew(t, Spec{Name: "p", Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 4}, 3)
			require.NoError(t, m.Put(uint32(1), []uint32{1, 2, 3}))
			var got []uint32
			require.NoError(t, m.Lookup(uint32(1), &got))
			assert.Equal(t, []uint32{1, 2, 3}, got)
			raw, err := m.LookupBytes(u32(1))
			require.NoError(t, err)
			assert.Len(t, raw, 3*8)
			e := m.(elemOps)
			v, en := e.progLookup(u32(1), 2)
			require.Zero(t, en)
			assert.Equal(t, u32(3), v)
			require.Zero(t, e.progUpdate(u32(1), u32(9), UpdateAny, 1))
			require.NoError(t, m.Lookup(uint32(1), &got))
			assert.Equal(t, []uint32{1, 9, 3}, got)
			assert.Error(t, m.Put(uint32(1), []uint32{1, 2, 3, 4}), "more values than CPUs")
		})
	}
}

func TestLRU(t *testing.T) {
	m := mustNew(t, Spec{Name: "lru", Type: ebpf.LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 3}, 1)
	e := m.(elemOps)
	for k := uint32(1); k <= 3; k++ {
		require.NoError(t, m.Put(k, k))
	}
	_, en := e.progLookup(u32(1), 0) // 1 is referenced: 2 is the victim
	require.Zero(t, en)
	require.NoError(t, m.Put(uint32(4), uint32(4)))
	var v uint32
	assert.ErrorIs(t, m.Lookup(uint32(2), &v), errno.ENOENT)
	for _, k := range []uint32{1, 3, 4} {
		assert.NoError(t, m.Lookup(k, &v), "key %d", k)
	}
	assert.Equal(t, 3, m.(*hashMap).Len())
	assert.ErrorIs(t, m.Update(uint32(5), uint32(5), UpdateExist), errno.ENOENT)
	assert.ErrorIs(t, m.Update(uint32(5), uint32(5), UpdateLock), errno.EINVAL)
}

func lpmKey(plen uint32, ip ...byte) []byte { return append(u32(plen), ip...) }

func TestLPM(t *testing.T) {
	m := mustNew(t, Spec{Name: "lpm", Type: ebpf.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 4, Flags: FlagNoPrealloc}, 1)
	run(t, m, []op{
		{do: "update", key: lpmKey(16, 192, 168, 0, 0), val: u32(16)},
		{do: "update", key: lpmKey(24, 192, 168, 0, 0), val: u32(240)},
		{do: "update", key: lpmKey(24, 192, 168, 1, 0), val: u32(241)},
		{do: "update", key: lpmKey(24, 192, 168, 128, 0), val: u32(242)},
		{do: "update", key: lpmKey(8, 10, 0, 0, 0), val: u32(8), want: errno.ENOSPC},
		{do: "update", key: lpmKey(33, 10, 0, 0, 0), val: u32(8), want: errno.EINVAL},
		{do: "update", key: lpmKey(16, 192, 168, 0, 0), val: u32(16), flags: UpdateNoExist, want: errno.EEXIST},
		{do: "lookup", key: lpmKey(32, 192, 168, 1, 7), out: u32(241)},
		{do: "lookup", key: lpmKey(32, 192, 168, 2, 7), out: u32(16)},
		{do: "lookup", key: lpmKey(32, 10, 1, 2, 7), want: errno.ENOENT},
		{do: "lookup", key: lpmKey(20, 192, 168, 1, 7), out: u32(16)},
		// Postorder: more specific first, as the kernel documents.
		{do: "next", key: nil, out: lpmKey(24, 192, 168, 0, 0)},
		{do: "next", key: lpmKey(24, 192, 168, 0, 0), out: lpmKey(24, 192, 168, 1, 0)},
		{do: "next", key: lpmKey(24, 192, 168, 1, 0), out: lpmKey(24, 192, 168, 128, 0)},
		{do: "next", key: lpmKey(24, 192, 168, 128, 0), out: lpmKey(16, 192, 168, 0, 0)},
		{do: "next", key: lpmKey(16, 192, 168, 0, 0), want: errno.ENOENT},
		{do: "delete", key: lpmKey(16, 192, 169, 0, 0), want: errno.ENOENT},
		{do: "delete", key: lpmKey(16, 192, 168, 0, 0)},
		{do: "lookup", key: lpmKey(32, 192, 168, 2, 7), want: errno.ENOENT},
		{do: "delete", key: lpmKey(24, 192, 168, 1, 0)},
		{do: "lookup", key: lpmKey(32, 192, 168, 128, 1), out: u32(242)},
		{do: "update", key: lpmKey(0, 0, 0, 0, 0), val: u32(99), flags: UpdateExist, want: errno.ENOENT},
		{do: "update", key: lpmKey(0, 0, 0, 0, 0), val: u32(99)},
		{do: "lookup", key: lpmKey(32, 1, 2, 3, 4), out: u32(99)},
	})
}

func TestQueueStack(t *testing.T) {
	for _, tc := range []struct {
		typ        ebpf.MapType
		pop1, pop2 uint32
	}{{ebpf.Queue, 2, 3}, {ebpf.Stack, 3, 2}} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			m := mustNew(t, Spec{Name: "q", Type: tc.typ, ValueSize: 4, MaxEntries: 2}, 1)
			run(t, m, []op{
				{do: "pop", want: errno.ENOENT},
				{do: "push", val: u32(1)},
				{do: "push", val: u32(2)},
				{do: "push", val: u32(3), want: errno.E2BIG},
				{do: "push", val: u32(3), flags: UpdateNoExist, want: errno.EINVAL},
				{do: "push", val: u32(3), flags: UpdateExist}, // drops the oldest (1)
				{do: "peek", out: u32(tc.pop1)},
				{do: "pop", out: u32(tc.pop1)},
				{do: "pop", out: u32(tc.pop2)},
				{do: "pop", want: errno.ENOENT},
				{do: "delete", key: nil, want: errno.EINVAL},
				{do: "next", key: nil, want: errno.EINVAL},
			})
		})
	}
}

func TestFrozen(t *testing.T) {
	m := mustNew(t, Spec{Name: ".rodata", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1,
		Flags: FlagRdonlyProg, Contents: []byte("hi"), Freeze: true}, 1)
	v, err := m.LookupBytes(u32(0))
	require.NoError(t, err)
	assert.Equal(t, []byte("hi\x00\x00\x00\x00\x00\x00"), v)
	assert.ErrorIs(t, m.Put(uint32(0), uint64(1)), errno.EPERM)
	assert.ErrorIs(t, m.Freeze(), errno.EPERM)
	r, err := ValueRegion(m)
	require.NoError(t, err)
	assert.Equal(t, uint8(1), uint8(r.Perm))
}

func TestMapOfMaps(t *testing.T) {
	innerSpec := Spec{Name: "inner", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 2}
	for _, typ := range []ebpf.MapType{ebpf.ArrayOfMaps, ebpf.HashOfMaps} {
		t.Run(typ.String(), func(t *testing.T) {
			outer := mustNew(t, Spec{Name: "outer", Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: &innerSpec}, 1)
			in := mustNew(t, innerSpec, 1)
			wrong := mustNew(t, Spec{Name: "w", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 3}, 1)
			require.NoError(t, outer.Put(uint32(1), in))
			assert.ErrorIs(t, outer.Put(uint32(0), wrong), errno.EINVAL)
			var got Map
			require.NoError(t, outer.Lookup(uint32(1), &got))
			assert.Same(t, in, got)
			var id uint32
			require.NoError(t, outer.Lookup(uint32(1), &id))
			assert.Equal(t, in.(interface{ ID() uint32 }).ID(), id)
			assert.ErrorIs(t, outer.Lookup(uint32(0), &id), errno.ENOENT)
			require.NoError(t, outer.Delete(uint32(1)))
			assert.ErrorIs(t, outer.Delete(uint32(1)), errno.ENOENT)
		})
	}
}

func TestRingBufAccounting(t *testing.T) {
	m := mustNew(t, Spec{Name: "rb", Type: ebpf.RingBuf, MaxEntries: 4096}, 1)
	rb := m.(*RingBuf)
	a := rb.reserve(2000) // 2008
	require.NotNil(t, a)
	b := rb.reserve(2000)
	require.NotNil(t, b)
	assert.Nil(t, rb.reserve(100), "no room past size-1")
	rb.commit(b, false, 0)
	_, ok := rb.Read()
	assert.False(t, ok, "the oldest record is still reserved")
	copy(a.data, "x")
	rb.commit(a, false, 0)
	recs := rb.Records()
	require.Len(t, recs, 2)
	assert.Equal(t, byte('x'), recs[0][0])
	assert.Equal(t, uint64(4016), rb.query(RingbufConsPos))
	assert.Equal(t, errno.EINVAL, rb.output([]byte("x"), 4))
	assert.Equal(t, syscall.Errno(0), rb.output([]byte("x"), 0))
	assert.Equal(t, uint64(16), rb.query(RingbufAvailData))
	_, err := m.LookupBytes(nil)
	assert.ErrorIs(t, err, errno.ENOTSUPP)
}
