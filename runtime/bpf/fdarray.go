package bpf

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/skmsg/skmsg/vm"
)

// progArray is BPF_MAP_TYPE_PROG_ARRAY: the targets of bpf_tail_call.
// There are no file descriptors here, so entries are set with
// SetProgram (or Update with a *vm.Program); tail calls read them without
// locks.
type progArray struct {
	*base
	progs []atomic.Pointer[vm.Program]
}

func newProgArray(b *base) *progArray {
	p := &progArray{base: b, progs: make([]atomic.Pointer[vm.Program], b.spec.MaxEntries)}
	b.init(p)
	return p
}

var (
	progIDMu   sync.Mutex
	progIDs    = map[*vm.Program]uint32{}
	nextProgID uint32
)

// programID gives each program a stable id, as the kernel's prog ids that
// a user-space lookup in a program array returns.
func programID(p *vm.Program) uint32 {
	progIDMu.Lock()
	defer progIDMu.Unlock()
	id, ok := progIDs[p]
	if !ok {
		nextProgID++
		id = nextProgID
		progIDs[p] = id
	}
	return id
}

// fdArrayUpdateCheck is the flags and index check of bpf_fd_array_map_update_elem.
func fdArrayUpdateCheck(flags uint64, i, max uint32) syscall.Errno {
	if flags != UpdateAny {
		return errno.EINVAL
	}
	if i >= max {
		return errno.E2BIG
	}
	return 0
}

func (p *progArray) sysLookup(key []byte) ([]byte, syscall.Errno) {
	i := binary.NativeEndian.Uint32(key)
	if i >= p.spec.MaxEntries {
		return nil, errno.ENOENT
	}
	prog := p.progs[i].Load()
	if prog == nil {
		return nil, errno.ENOENT
	}
	out := make([]byte, 4)
	binary.NativeEndian.PutUint32(out, programID(prog))
	return out, 0
}

func (p *progArray) sysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if e := fdArrayUpdateCheck(flags, binary.NativeEndian.Uint32(key), p.spec.MaxEntries); e != 0 {
		return e
	}
	return errno.EBADF // a program array holds programs, not descriptors: use SetProgram
}

func (p *progArray) sysDelete(key []byte) syscall.Errno {
	i := binary.NativeEndian.Uint32(key)
	if i >= p.spec.MaxEntries {
		return errno.E2BIG
	}
	if p.progs[i].Swap(nil) == nil {
		return errno.ENOENT
	}
	return 0
}

func (p *progArray) nextKey(key, next []byte) syscall.Errno {
	return arrayNextKey(key, next, p.spec.MaxEntries)
}

// SetProgram stores prog at index (nil deletes).
func (p *progArray) SetProgram(index uint32, prog *vm.Program, flags uint64) error {
	if err := p.canWrite("update"); err != nil {
		return err
	}
	if e := fdArrayUpdateCheck(flags, index, p.spec.MaxEntries); e != 0 {
		return p.fail("update", e, "")
	}
	p.progs[index].Store(prog)
	return nil
}

// Program is the program at index, nil when empty or out of range.
func (p *progArray) Program(index uint32) *vm.Program {
	if index >= uint32(len(p.progs)) {
		return nil
	}
	return p.progs[index].Load()
}

// arrayOfMaps is BPF_MAP_TYPE_ARRAY_OF_MAPS.
type arrayOfMaps struct {
	*base
	inner []atomic.Pointer[Map]
}

func newArrayOfMaps(b *base) *arrayOfMaps {
	a := &arrayOfMaps{base: b, inner: make([]atomic.Pointer[Map], b.spec.MaxEntries)}
	b.init(a)
	return a
}

func (a *arrayOfMaps) sysLookup(key []byte) ([]byte, syscall.Errno) {
	m := a.innerLookup(key)
	if m == nil {
		return nil, errno.ENOENT
	}
	out := make([]byte, 4)
	binary.NativeEndian.PutUint32(out, m.(interface{ ID() uint32 }).ID())
	return out, 0
}

func (a *arrayOfMaps) sysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if e := fdArrayUpdateCheck(flags, binary.NativeEndian.Uint32(key), a.spec.MaxEntries); e != 0 {
		return e
	}
	return errno.EBADF // needs a map: use SetInner
}

func (a *arrayOfMaps) sysDelete(key []byte) syscall.Errno {
	i := binary.NativeEndian.Uint32(key)
	if i >= a.spec.MaxEntries {
		return errno.E2BIG
	}
	if a.inner[i].Swap(nil) == nil {
		return errno.ENOENT
	}
	return 0
}

func (a *arrayOfMaps) nextKey(key, next []byte) syscall.Errno {
	return arrayNextKey(key, next, a.spec.MaxEntries)
}

func (a *arrayOfMaps) innerLookup(key []byte) Map {
	i := binary.NativeEndian.Uint32(key)
	if i >= a.spec.MaxEntries {
		return nil
	}
	if p := a.inner[i].Load(); p != nil {
		return *p
	}
	return nil
}

// SetInner stores inner at index key.
func (a *arrayOfMaps) SetInner(key []byte, inner Map, flags uint64) error {
	if err := a.canWrite("update"); err != nil {
		return err
	}
	if err := a.checkKey("update", key); err != nil {
		return err
	}
	if e := fdArrayUpdateCheck(flags, binary.NativeEndian.Uint32(key), a.spec.MaxEntries); e != 0 {
		return a.fail("update", e, "")
	}
	if err := innerCompatible(a.base, inner); err != nil {
		return err
	}
	a.inner[binary.NativeEndian.Uint32(key)].Store(&inner)
	return nil
}

// Inner returns the map at index key.
func (a *arrayOfMaps) Inner(key []byte) (Map, error) {
	if err := a.checkKey("lookup", key); err != nil {
		return nil, err
	}
	if m := a.innerLookup(key); m != nil {
		return m, nil
	}
	return nil, a.fail("lookup", errno.ENOENT, "")
}
