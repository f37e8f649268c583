package bpf

import (
	"github.com/cilium/ebpf"
)

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// pcpu is a per-CPU value of two CPUs, each padded to 8 bytes.
func pcpu(a, b uint32) []byte { return cat(u32(a), u32(0), u32(b), u32(0)) }

func diffCases() []diffCase {
	var cases []diffCase
	// Creation checks.
	for _, c := range []struct {
		name string
		spec Spec
	}{
		{"array key 8", Spec{Type: ebpf.Array, KeySize: 8, ValueSize: 4, MaxEntries: 1}},
		{"array value 0", Spec{Type: ebpf.Array, KeySize: 4, MaxEntries: 1}},
		{"array max 0", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 4}},
		{"array no prealloc", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}},
		{"array rdonly+wronly", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagRdonly | FlagWronly}},
		{"array inner map flag", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagInnerMap}},
		{"percpu array mmapable", Spec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagMmapable}},
		{"percpu array 32768", Spec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 32768, MaxEntries: 1}},
		{"percpu array 32769", Spec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 32769, MaxEntries: 1}},
		{"hash key 0", Spec{Type: ebpf.Hash, ValueSize: 4, MaxEntries: 1}},
		{"hash value 0", Spec{Type: ebpf.Hash, KeySize: 4, MaxEntries: 1}},
		{"hash max 0", Spec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4}},
		{"hash key 600", Spec{Type: ebpf.Hash, KeySize: 600, ValueSize: 4, MaxEntries: 1}},
		{"hash value 4M", Spec{Type: ebpf.Hash, KeySize: 4, ValueSize: 1 << 22, MaxEntries: 1}},
		{"hash no common lru", Spec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoCommonLRU}},
		{"hash mmapable", Spec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagMmapable}},
		{"hash no prealloc", Spec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}},
		{"percpu hash 32769", Spec{Type: ebpf.PerCPUHash, KeySize: 4, ValueSize: 32769, MaxEntries: 1}},
		{"lru no prealloc", Spec{Type: ebpf.LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}},
		{"lru no common lru", Spec{Type: ebpf.LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: FlagNoCommonLRU}},
		{"lpm prealloc", Spec{Type: ebpf.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1}},
		{"lpm key 4", Spec{Type: ebpf.LPMTrie, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}},
		{"lpm key 261", Spec{Type: ebpf.LPMTrie, KeySize: 261, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}},
		{"lpm key 260", Spec{Type: ebpf.LPMTrie, KeySize: 260, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}},
		{"lpm value 0", Spec{Type: ebpf.LPMTrie, KeySize: 8, MaxEntries: 1, Flags: FlagNoPrealloc}},
		{"ringbuf 4096", Spec{Type: ebpf.RingBuf, MaxEntries: 4096}},
		{"ringbuf 3000", Spec{Type: ebpf.RingBuf, MaxEntries: 3000}},
		{"ringbuf 2048", Spec{Type: ebpf.RingBuf, MaxEntries: 2048}},
		{"ringbuf key 4", Spec{Type: ebpf.RingBuf, KeySize: 4, MaxEntries: 4096}},
		{"queue key 4", Spec{Type: ebpf.Queue, KeySize: 4, ValueSize: 4, MaxEntries: 1}},
		{"queue value 0", Spec{Type: ebpf.Queue, MaxEntries: 1}},
		{"stack no prealloc", Spec{Type: ebpf.Stack, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}},
		{"prog array value 8", Spec{Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}},
		{"perf array value 8", Spec{Type: ebpf.PerfEventArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}},
		{"perf array preserve", Spec{Type: ebpf.PerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagPreserveElem}},
		{"array preserve", Spec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagPreserveElem}},
		{"sk storage prealloc", Spec{Type: ebpf.SkStorage, KeySize: 4, ValueSize: 4}},
		{"lru with spin lock", Spec{Type: ebpf.LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 1, SpinLockOff: 1}},
		{"percpu array with spin lock", Spec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1, SpinLockOff: 1}},
		{"sk storage max 1", Spec{Type: ebpf.SkStorage, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}},
	} {
		s := c.spec
		s.Name = "create"
		cases = append(cases, diffCase{name: "create/" + c.name, spec: s})
	}

	cases = append(cases, diffCase{
		name: "array",
		spec: Spec{Name: "arr", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 3},
		ops: []dop{
			{op: "lookup", key: u32(0)},
			{op: "update", key: u32(1), val: u64(7)},
			{op: "lookup", key: u32(1)},
			{op: "update", key: u32(1), val: u64(8), flags: UpdateNoExist},
			{op: "update", key: u32(1), val: u64(9), flags: UpdateExist},
			{op: "lookup", key: u32(1)},
			{op: "update", key: u32(3), val: u64(1)},
			{op: "update", key: u32(3), val: u64(1), flags: UpdateNoExist},
			{op: "update", key: u32(0), val: u64(1), flags: 3},
			{op: "update", key: u32(0), val: u64(1), flags: UpdateLock},
			{op: "update", key: u32(0), val: u64(1), flags: 8},
			{op: "update", key: u32(0), val: u64(1), flags: 16},
			{op: "lookup", key: u32(3)},
			{op: "delete", key: u32(0)},
			{op: "delete", key: u32(7)},
			{op: "next", key: nil},
			{op: "next", key: u32(0)},
			{op: "next", key: u32(1)},
			{op: "next", key: u32(2)},
			{op: "next", key: u32(100)},
			{op: "keys"},
			{op: "freeze"},
			{op: "update", key: u32(0), val: u64(2)},
			{op: "delete", key: u32(0)},
			{op: "lookup", key: u32(1)},
			{op: "freeze"},
		},
	})
	cases = append(cases, diffCase{
		name: "array rdonly",
		spec: Spec{Name: "ro", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagRdonly},
		ops: []dop{
			{op: "update", key: u32(0), val: u32(1)},
			{op: "lookup", key: u32(0)},
		},
	})
	cases = append(cases, diffCase{
		name: "array wronly",
		spec: Spec{Name: "wo", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagWronly},
		ops: []dop{
			{op: "update", key: u32(0), val: u32(1)},
			{op: "lookup", key: u32(0)},
		},
	})
	cases = append(cases, diffCase{
		name: "percpu array",
		spec: Spec{Name: "pca", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 2},
		ops: []dop{
			{op: "lookup", key: u32(1)},
			{op: "update", key: u32(1), val: pcpu(5, 6)},
			{op: "lookup", key: u32(1)},
			{op: "update", key: u32(1), val: pcpu(1, 1), flags: UpdateNoExist},
			{op: "update", key: u32(2), val: pcpu(1, 1)},
			{op: "update", key: u32(0), val: pcpu(1, 1), flags: UpdateLock},
			{op: "delete", key: u32(0)},
			{op: "lookup", key: u32(2)},
			{op: "keys"},
		},
	})
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.PerCPUHash} {
		val := func(v uint64) []byte {
			if typ == ebpf.PerCPUHash {
				return cat(u64(v), u64(v+1))
			}
			return u64(v)
		}
		cases = append(cases, diffCase{
			name: typ.String(),
			spec: Spec{Name: "h", Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 2},
			ops: []dop{
				{op: "next", key: nil},
				{op: "next", key: u32(5)},
				{op: "lookup", key: u32(1)},
				{op: "delete", key: u32(1)},
				{op: "update", key: u32(1), val: val(10), flags: UpdateExist},
				{op: "update", key: u32(1), val: val(10), flags: UpdateNoExist},
				{op: "update", key: u32(1), val: val(11), flags: UpdateNoExist},
				{op: "lookup", key: u32(1)},
				{op: "update", key: u32(2), val: val(20)},
				{op: "update", key: u32(3), val: val(30)},
				{op: "update", key: u32(3), val: val(30), flags: UpdateExist},
				{op: "update", key: u32(2), val: val(21)},
				{op: "update", key: u32(2), val: val(22), flags: UpdateExist},
				{op: "lookup", key: u32(2)},
				{op: "update", key: u32(2), val: val(21), flags: 3},
				{op: "update", key: u32(2), val: val(21), flags: UpdateLock},
				{op: "update", key: u32(2), val: val(21), flags: 8},
				{op: "next", key: nil, cmp: cmpMember},
				{op: "next", key: u32(9), cmp: cmpMember},
				{op: "keys"},
				{op: "delete", key: u32(1)},
				{op: "delete", key: u32(1)},
				{op: "update", key: u32(3), val: val(30)},
				{op: "keys"},
				{op: "delete", key: u32(2)},
				{op: "delete", key: u32(3)},
				{op: "next", key: nil},
			},
		})
	}
	cases = append(cases, diffCase{
		name: "hash odd sizes",
		spec: Spec{Name: "ho", Type: ebpf.Hash, KeySize: 3, ValueSize: 5, MaxEntries: 3, Flags: FlagNoPrealloc},
		ops: []dop{
			{op: "update", key: []byte("abc"), val: []byte("12345")},
			{op: "update", key: []byte("abd"), val: []byte("67890")},
			{op: "lookup", key: []byte("abc")},
			{op: "lookup", key: []byte("abd")},
			{op: "update", key: []byte("xyz"), val: []byte("00000")},
			{op: "update", key: []byte("xy!"), val: []byte("00000")},
			{op: "keys"},
		},
	})
	for _, typ := range []ebpf.MapType{ebpf.LRUHash, ebpf.LRUCPUHash} {
		vs := 4
		if typ == ebpf.LRUCPUHash {
			vs = 16
		}
		v := make([]byte, vs)
		v[0] = 9
		ops := []dop{
			{op: "update", key: u32(1), val: v, flags: UpdateExist},
			{op: "update", key: u32(1), val: v, flags: UpdateNoExist},
			{op: "update", key: u32(1), val: v, flags: UpdateNoExist},
			{op: "lookup", key: u32(1)},
			{op: "update", key: u32(1), val: v, flags: UpdateLock},
			{op: "update", key: u32(1), val: v, flags: 3},
			{op: "delete", key: u32(1)},
			{op: "delete", key: u32(1)},
		}
		// Past capacity an LRU map evicts instead of failing; which key
		// goes is up to the kernel's approximate LRU.
		for k := uint32(10); k < 30; k++ {
			ops = append(ops, dop{op: "update", key: u32(k), val: v, cmp: cmpErrno})
		}
		ops = append(ops, dop{op: "lookup", key: u32(29)})
		cases = append(cases, diffCase{
			name: typ.String(),
			spec: Spec{Name: "lru", Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 8},
			ops:  ops,
		})
	}
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.Array} {
		// A value with a bpf_spin_lock at offset 4: BPF_F_LOCK updates
		// in place under the lock, and no update touches the lock word.
		cases = append(cases, diffCase{
			name: typ.String() + " with spin lock",
			spec: Spec{Name: "locked", Type: typ, KeySize: 4, ValueSize: 12, MaxEntries: 2, SpinLockOff: 5},
			ops: []dop{
				{op: "update", key: u32(1), val: cat(u32(1), u32(0xFFFFFFFF), u32(2)), flags: UpdateLock},
				{op: "lookup", key: u32(1)},
				{op: "update", key: u32(1), val: cat(u32(3), u32(0xFFFFFFFF), u32(4)), flags: UpdateLock | UpdateExist},
				{op: "lookup", key: u32(1)},
				{op: "update", key: u32(1), val: cat(u32(5), u32(7), u32(6)), flags: UpdateLock | UpdateNoExist},
				{op: "update", key: u32(0), val: cat(u32(5), u32(7), u32(6)), flags: UpdateLock | UpdateExist},
				{op: "update", key: u32(1), val: cat(u32(8), u32(7), u32(9))},
				{op: "lookup", key: u32(1)},
				{op: "update", key: u32(1), val: cat(u32(8), u32(7), u32(9)), flags: UpdateLock | 8},
			},
		})
	}
	lk := lpmKey
	cases = append(cases, diffCase{
		name: "lpm",
		spec: Spec{Name: "lpm", Type: ebpf.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 5, Flags: FlagNoPrealloc},
		ops: []dop{
			{op: "next", key: nil},
			{op: "lookup", key: lk(32, 1, 2, 3, 4)},
			{op: "update", key: lk(16, 192, 168, 0, 0), val: u32(16)},
			{op: "update", key: lk(24, 192, 168, 0, 0), val: u32(240)},
			{op: "update", key: lk(24, 192, 168, 1, 0), val: u32(241)},
			{op: "update", key: lk(24, 192, 168, 128, 0), val: u32(242)},
			{op: "update", key: lk(8, 10, 0, 0, 0), val: u32(8), flags: UpdateExist},
			{op: "update", key: lk(8, 10, 0, 0, 0), val: u32(8)},
			{op: "update", key: lk(8, 11, 0, 0, 0), val: u32(8)},
			{op: "update", key: lk(8, 10, 0, 0, 0), val: u32(9)},
			{op: "update", key: lk(33, 10, 0, 0, 0), val: u32(8)},
			{op: "update", key: lk(16, 192, 168, 0, 0), val: u32(16), flags: UpdateNoExist},
			{op: "update", key: lk(16, 192, 168, 0, 0), val: u32(17), flags: UpdateExist},
			{op: "update", key: lk(16, 192, 168, 0, 0), val: u32(17), flags: 4},
			{op: "lookup", key: lk(32, 192, 168, 1, 7)},
			{op: "lookup", key: lk(32, 192, 168, 2, 7)},
			{op: "lookup", key: lk(32, 10, 1, 2, 7)},
			{op: "lookup", key: lk(20, 192, 168, 1, 7)},
			{op: "lookup", key: lk(40, 192, 168, 1, 7)},
			{op: "next", key: nil},
			{op: "next", key: lk(24, 192, 168, 0, 0)},
			{op: "next", key: lk(24, 192, 168, 1, 0)},
			{op: "next", key: lk(24, 192, 168, 128, 0)},
			{op: "next", key: lk(16, 192, 168, 0, 0)},
			{op: "next", key: lk(8, 10, 0, 0, 0)},
			{op: "next", key: lk(23, 192, 168, 0, 0)},
			{op: "next", key: lk(40, 192, 168, 0, 0)},
			{op: "delete", key: lk(16, 192, 169, 0, 0)},
			{op: "delete", key: lk(16, 192, 168, 0, 1)},
			{op: "delete", key: lk(16, 192, 168, 0, 0)},
			{op: "delete", key: lk(40, 192, 168, 0, 0)},
			{op: "lookup", key: lk(32, 192, 168, 2, 7)},
			{op: "delete", key: lk(24, 192, 168, 1, 0)},
			{op: "lookup", key: lk(32, 192, 168, 128, 1)},
			{op: "update", key: lk(0, 0, 0, 0, 0), val: u32(99)},
			{op: "lookup", key: lk(32, 1, 2, 3, 4)},
			{op: "keys"},
			{op: "next", key: nil},
			{op: "next", key: lk(0, 0, 0, 0, 0)},
		},
	})
	for _, typ := range []ebpf.MapType{ebpf.Queue, ebpf.Stack} {
		cases = append(cases, diffCase{
			name: typ.String(),
			spec: Spec{Name: "q", Type: typ, ValueSize: 4, MaxEntries: 3},
			ops: []dop{
				{op: "pop"},
				{op: "peek"},
				{op: "push", val: u32(1)},
				{op: "push", val: u32(2)},
				{op: "push", val: u32(3)},
				{op: "push", val: u32(4)},
				{op: "push", val: u32(4), flags: UpdateNoExist},
				{op: "push", val: u32(4), flags: UpdateLock},
				{op: "push", val: u32(4), flags: UpdateExist},
				{op: "peek"},
				{op: "pop"},
				{op: "pop"},
				{op: "push", val: u32(5), flags: UpdateExist},
				{op: "pop"},
				{op: "pop"},
				{op: "pop"},
				{op: "delete", key: nil},
				{op: "next", key: nil},
			},
		})
	}
	cases = append(cases, diffCase{
		name: "prog array",
		spec: Spec{Name: "jmp", Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 2},
		ops: []dop{
			{op: "lookup", key: u32(0)},
			{op: "lookup", key: u32(5)},
			{op: "delete", key: u32(0)},
			{op: "delete", key: u32(5)},
			{op: "update", key: u32(0), val: u32(0xFFFFFFFF), flags: UpdateNoExist},
			{op: "update", key: u32(5), val: u32(0xFFFFFFFF)},
			{op: "update", key: u32(0), val: u32(0xFFFFFFFF)},
			{op: "next", key: nil},
			{op: "next", key: u32(1)},
			{op: "keys"},
		},
	})
	inner := Spec{Name: "inner", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 2}
	wrongMax := inner
	wrongMax.MaxEntries = 3
	wrongType := Spec{Name: "inner", Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 2}
	innerFlex := inner
	innerFlex.Flags = FlagInnerMap
	innerFlex3 := wrongMax
	innerFlex3.Flags = FlagInnerMap
	cases = append(cases, diffCase{
		name:   "array of maps",
		spec:   Spec{Name: "aom", Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: &inner},
		inners: []Spec{inner, wrongMax, wrongType},
		ops: []dop{
			{op: "lookup", key: u32(0)},
			{op: "setinner", key: u32(0), inner: 0},
			{op: "lookup", key: u32(0), cmp: cmpErrno},
			{op: "setinner", key: u32(1), inner: 1},
			{op: "setinner", key: u32(1), inner: 2},
			{op: "setinner", key: u32(1), inner: 0, flags: UpdateNoExist},
			{op: "setinner", key: u32(2), inner: 0},
			{op: "delete", key: u32(0)},
			{op: "delete", key: u32(0)},
			{op: "delete", key: u32(2)},
			{op: "next", key: u32(0)},
			{op: "keys"},
		},
	})
	cases = append(cases, diffCase{
		name:   "array of maps BPF_F_INNER_MAP",
		spec:   Spec{Name: "aomf", Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: &innerFlex},
		inners: []Spec{innerFlex, innerFlex3, inner},
		ops: []dop{
			{op: "setinner", key: u32(0), inner: 0},
			{op: "setinner", key: u32(1), inner: 1},
			{op: "setinner", key: u32(1), inner: 2},
		},
	})
	cases = append(cases, diffCase{
		name:   "hash of maps",
		spec:   Spec{Name: "hom", Type: ebpf.HashOfMaps, KeySize: 8, ValueSize: 4, MaxEntries: 1, InnerMap: &inner},
		inners: []Spec{inner, wrongMax},
		ops: []dop{
			{op: "lookup", key: u64(1)},
			{op: "setinner", key: u64(1), inner: 0, flags: UpdateExist},
			{op: "setinner", key: u64(1), inner: 0},
			{op: "setinner", key: u64(1), inner: 0, flags: UpdateNoExist},
			{op: "setinner", key: u64(2), inner: 0},
			{op: "setinner", key: u64(1), inner: 1},
			{op: "setinner", key: u64(1), inner: 0, flags: UpdateLock},
			{op: "lookup", key: u64(1), cmp: cmpErrno},
			{op: "keys"},
			{op: "delete", key: u64(1)},
			{op: "delete", key: u64(1)},
		},
	})
	cases = append(cases, diffCase{
		name: "ringbuf",
		spec: Spec{Name: "rb", Type: ebpf.RingBuf, MaxEntries: 4096},
		ops: []dop{
			{op: "lookup", key: nil},
			{op: "update", key: nil, val: nil},
			{op: "delete", key: nil},
			{op: "next", key: nil},
		},
	})
	cases = append(cases, diffCase{
		name: "perf event array",
		spec: Spec{Name: "perf", Type: ebpf.PerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: 2},
		ops: []dop{
			{op: "lookup", key: u32(0)},
			{op: "delete", key: u32(5)},
			{op: "update", key: u32(0), val: u32(0xFFFFFFFF), flags: UpdateExist},
			{op: "update", key: u32(5), val: u32(0xFFFFFFFF)},
			{op: "next", key: nil},
			{op: "keys"},
		},
	})
	return cases
}
