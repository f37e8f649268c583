package bpf

import (
	"fmt"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
)

// Spec describes a map to create. It mirrors the fields of the kernel's
// BPF_MAP_CREATE (and of cilium/ebpf's MapSpec) that matter here.
type Spec struct {
	Name       string
	Type       ebpf.MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	// InnerMap is the template of the maps an array or hash of maps holds.
	InnerMap *Spec
	// Contents is the initial value of element 0 of an array (global data
	// sections .data, .bss, .rodata); shorter contents are zero-padded.
	Contents []byte
	// Freeze makes the map read-only to user space after Contents are
	// written (.rodata), as BPF_MAP_FREEZE does.
	Freeze bool
	// SpinLockOff is the offset of a struct bpf_spin_lock in the value
	// plus one, or 0 when the value has none (the loader reads it from
	// BTF). BPF_F_LOCK needs it.
	SpinLockOff uint32
}

// Options are the properties of the machine being emulated.
type Options struct {
	// NumCPU is the number of possible CPUs per-CPU maps hold values for;
	// 0 means 1.
	NumCPU int
}

func (o Options) numCPU() int {
	if o.NumCPU <= 0 {
		return 1
	}
	return o.NumCPU
}

// Kernel limits used by the creation checks.
const (
	pcpuMinUnitSize = 32768   // PCPU_MIN_UNIT_SIZE: bound of a per-CPU value
	kmallocMaxSize  = 1 << 22 // KMALLOC_MAX_SIZE on x86-64 (order 10 pages)
	htabElemSize    = 48      // sizeof(struct htab_elem) on x86-64
	lpmKeySizeMin   = 4 + 1
	lpmKeySizeMax   = 4 + 256
	pageSize        = 4096
	maxHashEntries  = 1 << 31
)

// New creates a map as BPF_MAP_CREATE would, with the kernel's checks on
// key and value sizes, max_entries and flags (EINVAL, E2BIG). Like libbpf
// and cilium/ebpf before they call the kernel, it gives a perf event array
// declared without sizes (its BTF value type is dropped, so an ELF spec
// has value size 0) key and value size 4, and one entry per CPU when
// max_entries is 0.
func New(spec Spec, opts Options) (Map, error) {
	spec = loaderDefaults(spec, &opts)
	if err := check(&spec, opts); err != nil {
		return nil, &MapError{Map: spec.Name, Op: "create", Errno: err.errno, Detail: err.why}
	}
	var m Map
	b := newBase(spec, opts)
	switch spec.Type {
	case ebpf.Array, ebpf.PerCPUArray:
		m = newArray(b)
	case ebpf.Hash, ebpf.PerCPUHash, ebpf.LRUHash, ebpf.LRUCPUHash:
		m = newHash(b)
	case ebpf.LPMTrie:
		m = newLPM(b)
	case ebpf.ArrayOfMaps:
		m = newArrayOfMaps(b)
	case ebpf.HashOfMaps:
		m = newHash(b)
	case ebpf.ProgramArray:
		m = newProgArray(b)
	case ebpf.PerfEventArray:
		m = newPerfArray(b)
	case ebpf.RingBuf:
		m = newRingBuf(b)
	case ebpf.SkStorage:
		m = newSkStorage(b)
	case ebpf.Queue, ebpf.Stack:
		m = newQueue(b)
	default:
		return nil, &MapError{Map: spec.Name, Op: "create", Errno: errno.EINVAL, Detail: fmt.Sprintf("map type %s is not supported here", spec.Type)}
	}
	if len(spec.Contents) > 0 {
		if err := m.UpdateBytes(make([]byte, 4), padTo(spec.Contents, int(spec.ValueSize)), UpdateAny); err != nil {
			return nil, err
		}
	}
	if spec.Freeze {
		if err := m.Freeze(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// loaderDefaults fills in what libbpf (bpf_object__create_map,
// map_set_def_max_entries) and cilium/ebpf (MapSpec.fixupMagicFields)
// fill in for the kernel: the sizes a map type fixes and, with opts, a perf
// event array's max_entries. Other values are left to the kernel's checks.
func loaderDefaults(s Spec, opts *Options) Spec {
	switch s.Type {
	case ebpf.PerfEventArray:
		if s.KeySize == 0 {
			s.KeySize = 4
		}
		if s.ValueSize == 0 {
			s.ValueSize = 4
		}
		if s.MaxEntries == 0 && opts != nil {
			s.MaxEntries = uint32(opts.numCPU())
		}
	case ebpf.ArrayOfMaps, ebpf.HashOfMaps:
		if s.ValueSize == 0 {
			s.ValueSize = 4
		}
	}
	if s.InnerMap != nil {
		in := loaderDefaults(*s.InnerMap, opts)
		s.InnerMap = &in
	}
	return s
}

func padTo(b []byte, n int) []byte {
	if len(b) >= n {
		return b[:n]
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

type checkErr struct {
	errno syscall.Errno
	why   string
}

func bad(e syscall.Errno, format string, args ...any) *checkErr {
	return &checkErr{e, fmt.Sprintf(format, args...)}
}

// accessFlagsOK is bpf_map_flags_access_ok: read-only and write-only may
// not be combined, for user space nor for programs.
func accessFlagsOK(f uint32) bool {
	return f&(FlagRdonly|FlagWronly) != FlagRdonly|FlagWronly &&
		f&(FlagRdonlyProg|FlagWronlyProg) != FlagRdonlyProg|FlagWronlyProg
}

// check reproduces the map types' map_alloc_check (and the parts of
// map_alloc that reject attributes).
func check(s *Spec, opts Options) *checkErr {
	if !accessFlagsOK(s.Flags) {
		return bad(errno.EINVAL, "conflicting access flags %#x", s.Flags)
	}
	percpu := s.Type == ebpf.PerCPUArray || s.Type == ebpf.PerCPUHash || s.Type == ebpf.LRUCPUHash
	switch s.Type {
	case ebpf.Array, ebpf.PerCPUArray, ebpf.ProgramArray, ebpf.PerfEventArray, ebpf.ArrayOfMaps:
		mask := FlagNumaNode | FlagMmapable | flagAccessMask | FlagPreserveElem | FlagInnerMap
		switch {
		case s.MaxEntries == 0 || s.KeySize != 4 || s.ValueSize == 0 || s.Flags&^mask != 0:
			return bad(errno.EINVAL, "array needs key size 4, value size > 0, max entries > 0 and known flags")
		case s.Type != ebpf.Array && s.Flags&(FlagMmapable|FlagInnerMap) != 0:
			return bad(errno.EINVAL, "BPF_F_MMAPABLE and BPF_F_INNER_MAP are for plain arrays")
		case s.Type != ebpf.PerfEventArray && s.Flags&FlagPreserveElem != 0:
			return bad(errno.EINVAL, "BPF_F_PRESERVE_ELEMS is for perf event arrays")
		case percpu && s.Flags&FlagNumaNode != 0:
			return bad(errno.EINVAL, "BPF_F_NUMA_NODE on a per-CPU map")
		case s.ValueSize > 1<<31-1:
			return bad(errno.E2BIG, "value size %d", s.ValueSize)
		case percpu && roundUp8(s.ValueSize) > pcpuMinUnitSize:
			return bad(errno.E2BIG, "per-CPU value size %d > %d", s.ValueSize, pcpuMinUnitSize)
		}
		if s.Type != ebpf.Array && s.Type != ebpf.PerCPUArray && s.ValueSize != 4 {
			return bad(errno.EINVAL, "%s needs value size 4", s.Type)
		}
		if uint64(roundUp8(s.ValueSize))*uint64(s.MaxEntries) >= 1<<32 {
			return bad(errno.ENOMEM, "array of %d x %d bytes", s.MaxEntries, s.ValueSize)
		}
	case ebpf.Hash, ebpf.PerCPUHash, ebpf.LRUHash, ebpf.LRUCPUHash, ebpf.HashOfMaps:
		mask := FlagNoPrealloc | FlagNoCommonLRU | FlagNumaNode | flagAccessMask | FlagZeroSeed
		lru := s.Type == ebpf.LRUHash || s.Type == ebpf.LRUCPUHash
		percpuLRU := s.Flags&FlagNoCommonLRU != 0
		switch {
		case s.Flags&^mask != 0:
			return bad(errno.EINVAL, "unknown flags %#x", s.Flags&^mask)
		case !lru && percpuLRU:
			return bad(errno.EINVAL, "BPF_F_NO_COMMON_LRU on a non-LRU hash")
		case lru && s.Flags&FlagNoPrealloc != 0:
			return bad(errno.ENOTSUPP, "LRU maps are always preallocated")
		case (percpu || percpuLRU) && s.Flags&FlagNumaNode != 0:
			return bad(errno.EINVAL, "BPF_F_NUMA_NODE on a per-CPU map")
		case s.MaxEntries == 0 || s.KeySize == 0 || s.ValueSize == 0:
			return bad(errno.EINVAL, "hash needs key size, value size and max entries > 0")
		case uint64(s.KeySize)+uint64(s.ValueSize) >= kmallocMaxSize-htabElemSize:
			return bad(errno.E2BIG, "key + value size %d", uint64(s.KeySize)+uint64(s.ValueSize))
		case percpu && roundUp8(s.ValueSize) > pcpuMinUnitSize:
			return bad(errno.E2BIG, "per-CPU value size %d > %d", s.ValueSize, pcpuMinUnitSize)
		case s.MaxEntries > maxHashEntries:
			return bad(errno.E2BIG, "max entries %d", s.MaxEntries)
		}
		if s.Type == ebpf.HashOfMaps && s.ValueSize != 4 {
			return bad(errno.EINVAL, "hash of maps needs value size 4")
		}
	case ebpf.LPMTrie:
		mask := FlagNoPrealloc | FlagNumaNode | flagAccessMask
		switch {
		case s.MaxEntries == 0 || s.Flags&FlagNoPrealloc == 0 || s.Flags&^mask != 0:
			return bad(errno.EINVAL, "LPM trie needs max entries > 0 and BPF_F_NO_PREALLOC")
		case s.KeySize < lpmKeySizeMin || s.KeySize > lpmKeySizeMax || s.ValueSize < 1 || s.ValueSize > kmallocMaxSize-(lpmKeySizeMax-4)-64:
			return bad(errno.EINVAL, "LPM trie key size must be 5..260, value size > 0")
		}
	case ebpf.RingBuf:
		switch {
		case s.Flags&^FlagNumaNode != 0:
			return bad(errno.EINVAL, "unknown flags %#x", s.Flags)
		case s.KeySize != 0 || s.ValueSize != 0 || s.MaxEntries == 0 || s.MaxEntries&(s.MaxEntries-1) != 0 || s.MaxEntries%pageSize != 0:
			return bad(errno.EINVAL, "ring buffer needs key and value size 0 and a power-of-two, page-aligned size")
		}
	case ebpf.SkStorage:
		switch {
		case s.Flags&^(FlagNoPrealloc|FlagClone) != 0 || s.Flags&FlagNoPrealloc == 0 || s.MaxEntries != 0 || s.KeySize != 4 || s.ValueSize == 0:
			return bad(errno.EINVAL, "sk_storage needs BPF_F_NO_PREALLOC, max entries 0, key size 4, value size > 0")
		case s.ValueSize > kmallocMaxSize-256:
			return bad(errno.E2BIG, "value size %d", s.ValueSize)
		}
	case ebpf.Queue, ebpf.Stack:
		switch {
		case s.MaxEntries == 0 || s.KeySize != 0 || s.ValueSize == 0 || s.Flags&^(FlagNumaNode|flagAccessMask) != 0:
			return bad(errno.EINVAL, "queue/stack needs key size 0, value size > 0, max entries > 0")
		case s.ValueSize > kmallocMaxSize:
			return bad(errno.E2BIG, "value size %d", s.ValueSize)
		}
	}
	if s.Type == ebpf.ArrayOfMaps || s.Type == ebpf.HashOfMaps {
		if s.InnerMap == nil {
			return bad(errno.EBADF, "map of maps needs an inner map spec")
		}
		switch s.InnerMap.Type {
		case ebpf.ArrayOfMaps, ebpf.HashOfMaps, ebpf.ProgramArray, ebpf.SkStorage, ebpf.SockMap, ebpf.SockHash:
			return bad(errno.EINVAL, "inner map of type %s", s.InnerMap.Type)
		}
		if s.InnerMap.SpinLockOff != 0 {
			return bad(errno.ENOTSUPP, "inner map with a spin lock")
		}
		if err := check(s.InnerMap, opts); err != nil {
			return err
		}
	}
	if s.SpinLockOff != 0 && s.Type != ebpf.Hash && s.Type != ebpf.Array && s.Type != ebpf.SkStorage {
		return bad(errno.EOPNOTSUPP, "bpf_spin_lock in a %s value", s.Type)
	}
	if s.SpinLockOff != 0 && (s.SpinLockOff-1+4 > s.ValueSize || (s.SpinLockOff-1)%4 != 0) {
		return bad(errno.EINVAL, "spin lock at %d outside value of %d bytes", s.SpinLockOff-1, s.ValueSize)
	}
	if len(s.Contents) > 0 && s.Type != ebpf.Array {
		return bad(errno.EINVAL, "initial contents on a %s", s.Type)
	}
	if len(s.Contents) > int(s.ValueSize) {
		return bad(errno.EINVAL, "initial contents of %d bytes exceed value size %d", len(s.Contents), s.ValueSize)
	}
	return nil
}

func roundUp8(n uint32) uint32 { return (n + 7) &^ 7 }
