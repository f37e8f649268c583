package bpf

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"unsafe"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The differential test runs the same map operations on the running
// kernel (maps made by cilium/ebpf, elements driven by raw bpf(2) calls so
// that NULL keys and per-CPU buffers are exactly what the kernel sees) and
// on this package, and compares every result: the errno, and the bytes
// returned by lookups, pops and get_next_key.

const (
	bpfMapLookupElem      = 1
	bpfMapUpdateElem      = 2
	bpfMapDeleteElem      = 3
	bpfMapGetNextKey      = 4
	bpfMapLookupAndDelete = 21
)

type elemAttr struct {
	fd    uint32
	_     uint32
	key   uint64
	value uint64
	flags uint64
}

func ptr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

func bpfElem(cmd int, fd int, key, val []byte, flags uint64) syscall.Errno {
	attr := elemAttr{fd: uint32(fd), key: ptr(key), value: ptr(val), flags: flags}
	_, _, e := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	return e
}

// cmpMode says how much of a result is deterministic on the kernel.
type cmpMode int

const (
	cmpAll    cmpMode = iota // errno and bytes
	cmpErrno                 // errno only (ids, LRU choices)
	cmpMember                // errno, and the key is one of the map's keys (hash order)
)

type dop struct {
	op    string // update lookup delete next push pop peek setinner freeze keys
	key   []byte // nil is a NULL key
	val   []byte
	flags uint64
	inner int // setinner: which of the case's inner maps
	cmp   cmpMode
}

type diffCase struct {
	name   string
	spec   Spec
	inners []Spec
	ops    []dop
}

// result is one operation's outcome on one side.
type result struct {
	errno syscall.Errno
	out   []byte
	keys  [][]byte
}

func (r result) String() string {
	if r.keys != nil {
		return fmt.Sprintf("%v keys %x", r.errno, r.keys)
	}
	return fmt.Sprintf("%v %x", r.errno, r.out)
}

func toCilium(s Spec) *ebpf.MapSpec {
	ms := &ebpf.MapSpec{Name: s.Name, Type: s.Type, KeySize: s.KeySize, ValueSize: s.ValueSize, MaxEntries: s.MaxEntries, Flags: s.Flags}
	if s.InnerMap != nil {
		ms.InnerMap = toCilium(*s.InnerMap)
	}
	if s.Type == ebpf.SkStorage {
		// The kernel requires BTF for socket storage.
		ms.Key = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
		ms.Value = &btf.Int{Name: "u64", Size: s.ValueSize}
	}
	if s.SpinLockOff != 0 {
		// The kernel finds the lock through BTF: struct { u32 before[];
		// struct bpf_spin_lock lock; u32 after[]; }.
		u32t := &btf.Int{Name: "u32", Size: 4}
		lock := &btf.Struct{Name: "bpf_spin_lock", Size: 4, Members: []btf.Member{{Name: "val", Type: u32t}}}
		var members []btf.Member
		for off := uint32(0); off < s.ValueSize; off += 4 {
			m := btf.Member{Name: fmt.Sprintf("f%d", off), Type: u32t, Offset: btf.Bits(off * 8)}
			if off == s.SpinLockOff-1 {
				m.Name, m.Type = "lock", lock
			}
			members = append(members, m)
		}
		ms.Key = &btf.Int{Name: "key", Size: s.KeySize}
		ms.Value = &btf.Struct{Name: "val", Size: s.ValueSize, Members: members}
	}
	return ms
}

// kernelCollection loads spec into the kernel (the caller closes it),
// skipping the test where loading programs is not permitted.
func kernelCollection(t *testing.T, spec *ebpf.CollectionSpec) *ebpf.Collection {
	t.Helper()
	kc, err := ebpf.NewCollection(spec)
	if errors.Is(err, unix.EPERM) {
		t.Skipf("loading programs is not permitted: %v", err)
	}
	require.NoError(t, err)
	return kc
}

func kernelMapsAllowed(t *testing.T) {
	t.Helper()
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Skipf("cannot lift the memlock limit: %v", err)
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if errors.Is(err, unix.EPERM) || errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("creating BPF maps is not permitted here: %v", err)
	}
	require.NoError(t, err)
	m.Close()
}

// side runs operations on one implementation.
type side interface {
	create(s Spec, inners []Spec) syscall.Errno
	do(o dop) result
	close()
}

type kernelSide struct {
	spec   Spec
	m      *ebpf.Map
	inners []*ebpf.Map
	ncpu   int
}

func (k *kernelSide) create(s Spec, inners []Spec) syscall.Errno {
	k.spec = s
	m, err := ebpf.NewMap(toCilium(s))
	if err != nil {
		return Errno(err)
	}
	k.m = m
	for _, is := range inners {
		im, err := ebpf.NewMap(toCilium(is))
		if err != nil {
			panic(fmt.Sprintf("inner map %s: %v", is.Name, err))
		}
		k.inners = append(k.inners, im)
	}
	return 0
}

func (k *kernelSide) valueBuf() []byte {
	switch k.spec.Type {
	case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
		return make([]byte, int(roundUp8(k.spec.ValueSize))*k.ncpu)
	case ebpf.RingBuf:
		return make([]byte, 8)
	}
	return make([]byte, max(k.spec.ValueSize, 4))
}

func (k *kernelSide) do(o dop) result {
	fd := k.m.FD()
	switch o.op {
	case "update", "push":
		return result{errno: bpfElem(bpfMapUpdateElem, fd, o.key, o.val, o.flags)}
	case "setinner":
		v := make([]byte, 4)
		*(*uint32)(unsafe.Pointer(&v[0])) = uint32(k.inners[o.inner].FD())
		return result{errno: bpfElem(bpfMapUpdateElem, fd, o.key, v, o.flags)}
	case "lookup", "peek":
		out := k.valueBuf()
		e := bpfElem(bpfMapLookupElem, fd, o.key, out, 0)
		return result{errno: e, out: okBytes(e, out)}
	case "pop":
		out := k.valueBuf()
		e := bpfElem(bpfMapLookupAndDelete, fd, o.key, out, 0)
		return result{errno: e, out: okBytes(e, out)}
	case "delete":
		return result{errno: bpfElem(bpfMapDeleteElem, fd, o.key, nil, 0)}
	case "next":
		out := make([]byte, max(k.spec.KeySize, 4))
		e := bpfElem(bpfMapGetNextKey, fd, o.key, out, 0)
		return result{errno: e, out: okBytes(e, out[:k.spec.KeySize])}
	case "freeze":
		return result{errno: Errno(k.m.Freeze())}
	case "keys":
		var keys [][]byte
		var prev []byte
		for i := 0; i < 1000; i++ {
			out := make([]byte, k.spec.KeySize)
			e := bpfElem(bpfMapGetNextKey, fd, prev, out, 0)
			if e != 0 {
				return result{errno: e, keys: sortKeys(keys)}
			}
			keys = append(keys, out)
			prev = out
		}
	}
	panic("unknown op " + o.op)
}

func (k *kernelSide) close() {
	if k.m != nil {
		k.m.Close()
	}
	for _, m := range k.inners {
		m.Close()
	}
}

func okBytes(e syscall.Errno, b []byte) []byte {
	if e != 0 {
		return nil
	}
	return b
}

func sortKeys(keys [][]byte) [][]byte {
	slices.SortFunc(keys, bytes.Compare)
	if keys == nil {
		keys = [][]byte{}
	}
	return keys
}

type emuSide struct {
	spec   Spec
	m      Map
	inners []Map
	ncpu   int
}

func (s *emuSide) create(sp Spec, inners []Spec) syscall.Errno {
	s.spec = sp
	m, err := New(sp, Options{NumCPU: s.ncpu})
	if err != nil {
		return Errno(err)
	}
	s.m = m
	for _, is := range inners {
		im, err := New(is, Options{NumCPU: s.ncpu})
		if err != nil {
			panic(err)
		}
		s.inners = append(s.inners, im)
	}
	return 0
}

func (s *emuSide) do(o dop) result {
	switch o.op {
	case "update", "push":
		return result{errno: Errno(s.m.UpdateBytes(o.key, o.val, o.flags))}
	case "setinner":
		return result{errno: Errno(s.m.(InnerSetter).SetInner(o.key, s.inners[o.inner], o.flags))}
	case "lookup", "peek":
		v, err := s.m.LookupBytes(o.key)
		return result{errno: Errno(err), out: append([]byte(nil), v...)}
	case "pop":
		q, ok := s.m.(Queue)
		if !ok {
			return result{errno: errno.EINVAL}
		}
		out := make([]byte, s.m.ValueSize())
		err := q.Pop(out)
		return result{errno: Errno(err), out: okBytes(Errno(err), out)}
	case "delete":
		return result{errno: Errno(s.m.DeleteBytes(o.key))}
	case "next":
		out := make([]byte, s.m.KeySize())
		err := s.m.NextKeyBytes(o.key, out)
		return result{errno: Errno(err), out: okBytes(Errno(err), out)}
	case "freeze":
		return result{errno: Errno(s.m.Freeze())}
	case "keys":
		var keys [][]byte
		var prev []byte
		for {
			out := make([]byte, s.m.KeySize())
			if err := s.m.NextKeyBytes(prev, out); err != nil {
				return result{errno: Errno(err), keys: sortKeys(keys)}
			}
			keys = append(keys, out)
			prev = out
		}
	}
	panic("unknown op " + o.op)
}

func (s *emuSide) close() {}

func TestKernelDifferential(t *testing.T) {
	kernelMapsAllowed(t)
	ncpu, err := ebpf.PossibleCPU()
	require.NoError(t, err)
	total, diverged := 0, 0
	// Socket storage is keyed by a socket fd from user space; the
	// emulation takes the same number as the socket's identity.
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	defer unix.Close(sock)
	fd := u32(uint32(sock))
	cases := append(diffCases(), diffCase{
		name: "sk storage",
		spec: Spec{Name: "sks", Type: ebpf.SkStorage, KeySize: 4, ValueSize: 8, Flags: FlagNoPrealloc},
		ops: []dop{
			{op: "lookup", key: fd},
			{op: "delete", key: fd},
			{op: "update", key: fd, val: u64(1), flags: UpdateExist},
			{op: "update", key: fd, val: u64(1), flags: UpdateNoExist},
			{op: "update", key: fd, val: u64(2), flags: UpdateNoExist},
			{op: "lookup", key: fd},
			{op: "update", key: fd, val: u64(3), flags: UpdateExist},
			{op: "update", key: fd, val: u64(3), flags: 3},
			{op: "update", key: fd, val: u64(3), flags: UpdateLock},
			{op: "lookup", key: fd},
			{op: "next", key: nil},
			{op: "next", key: fd},
			{op: "delete", key: fd},
			{op: "delete", key: fd},
		},
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := &kernelSide{ncpu: ncpu}
			e := &emuSide{ncpu: ncpu}
			defer k.close()
			ke, ee := k.create(tc.spec, tc.inners), e.create(tc.spec, tc.inners)
			total++
			if testing.Verbose() {
				t.Logf("create: kernel %v", ke)
			}
			if ke != ee {
				diverged++
				t.Errorf("create: kernel %v, emulation %v", ke, ee)
				return
			}
			if ke != 0 {
				return
			}
			for i, o := range tc.ops {
				kr, er := k.do(o), e.do(o)
				total++
				same := kr.errno == er.errno
				switch o.cmp {
				case cmpAll:
					same = same && bytes.Equal(kr.out, er.out) && slices.EqualFunc(kr.keys, er.keys, bytes.Equal)
				case cmpMember:
					if same && kr.errno == 0 {
						kk := k.do(dop{op: "keys"})
						ek := e.do(dop{op: "keys"})
						same = slices.ContainsFunc(kk.keys, func(b []byte) bool { return bytes.Equal(b, kr.out) }) &&
							slices.ContainsFunc(ek.keys, func(b []byte) bool { return bytes.Equal(b, er.out) })
					}
				}
				if testing.Verbose() {
					t.Logf("op %d %s key=%x flags=%d: kernel %v", i, o.op, o.key, o.flags, kr)
				}
				if !same {
					diverged++
					t.Errorf("op %d %s key=%x val=%x flags=%d: kernel %v, emulation %v", i, o.op, o.key, o.val, o.flags, kr, er)
				}
			}
		})
	}
	t.Logf("compared %d results (creations and operations), %d diverged", total, diverged)
}
