package bpf

import (
	"encoding/binary"
	"syscall"
	"unsafe"

	"github.com/skmsg/skmsg/internal/errno"

	"sync/atomic"
)

// arrayMap is BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY: values
// preallocated, never moved, read without locks (as the kernel does).
type arrayMap struct {
	*base
	stride int
	// vals[cpu] holds MaxEntries values of stride bytes; one slice for a
	// plain array.
	vals [][]byte
}

func newArray(b *base) *arrayMap {
	a := &arrayMap{base: b, stride: int(roundUp8(b.spec.ValueSize))}
	n := 1
	if b.percpu() {
		n = b.ncpu
	}
	a.vals = make([][]byte, n)
	for i := range a.vals {
		a.vals[i] = make([]byte, a.stride*int(b.spec.MaxEntries))
	}
	b.init(a)
	return a
}

func (a *arrayMap) index(key []byte) uint32 { return binary.NativeEndian.Uint32(key) }

func (a *arrayMap) elem(cpu int, i uint32) []byte {
	off := int(i) * a.stride
	return a.vals[cpu][off : off+int(a.spec.ValueSize) : off+int(a.spec.ValueSize)]
}

func (a *arrayMap) sysLookup(key []byte) ([]byte, syscall.Errno) {
	i := a.index(key)
	if i >= a.spec.MaxEntries {
		return nil, errno.ENOENT
	}
	if !a.percpu() {
		return a.elem(0, i), 0
	}
	out := make([]byte, a.stride*a.ncpu)
	for c := 0; c < a.ncpu; c++ {
		copy(out[c*a.stride:], a.elem(c, i))
	}
	return out, 0
}

// checkUpdateFlags is the common flags check of array and hash updates.
func checkUpdateFlags(flags uint64) syscall.Errno {
	if flags&^UpdateLock > UpdateExist {
		return errno.EINVAL
	}
	return 0
}

// updateIndex is the checks of an update from user space or a program
// (array_map_update_elem): its flags, the index in range (E2BIG), and no
// BPF_NOEXIST, as every element of an array exists (EEXIST).
func (a *arrayMap) updateIndex(key []byte, flags uint64) (uint32, syscall.Errno) {
	if e := checkUpdateFlags(flags); e != 0 {
		return 0, e
	}
	i := a.index(key)
	if i >= a.spec.MaxEntries {
		return 0, errno.E2BIG
	}
	if flags&UpdateNoExist != 0 {
		return 0, errno.EEXIST
	}
	return i, 0
}

func (a *arrayMap) sysUpdate(key, value []byte, flags uint64) syscall.Errno {
	i, e := a.updateIndex(key, flags)
	if e != 0 {
		return e
	}
	if !a.percpu() {
		a.store(a.elem(0, i), value, flags)
		return 0
	}
	for c := 0; c < a.ncpu; c++ {
		a.store(a.elem(c, i), value[c*a.stride:c*a.stride+int(a.spec.ValueSize)], 0)
	}
	return 0
}

// store copies value into the live element, leaving its spin lock alone,
// under that lock with BPF_F_LOCK.
func (a *arrayMap) store(dst, value []byte, flags uint64) {
	storeValue(dst, value, a.spec.SpinLockOff, flags&UpdateLock != 0)
}

func storeValue(dst, value []byte, lockOff uint32, locked bool) {
	if lockOff == 0 {
		copy(dst, value)
		return
	}
	off := int(lockOff - 1)
	if locked {
		spinLock(dst[off:])
		defer spinUnlock(dst[off:])
	}
	copy(dst[:off], value[:off])
	copy(dst[off+4:], value[off+4:])
}

func (a *arrayMap) sysDelete(key []byte) syscall.Errno { return errno.EINVAL }

func (a *arrayMap) nextKey(key, next []byte) syscall.Errno {
	return arrayNextKey(key, next, a.spec.MaxEntries)
}

func arrayNextKey(key, next []byte, max uint32) syscall.Errno {
	i := uint32(0xFFFFFFFF)
	if key != nil {
		i = binary.NativeEndian.Uint32(key)
	}
	if i >= max {
		binary.NativeEndian.PutUint32(next, 0)
		return 0
	}
	if i == max-1 {
		return errno.ENOENT
	}
	binary.NativeEndian.PutUint32(next, i+1)
	return 0
}

func (a *arrayMap) progLookup(key []byte, cpu int) ([]byte, syscall.Errno) {
	i := a.index(key)
	if i >= a.spec.MaxEntries {
		return nil, errno.ENOENT
	}
	if !a.percpu() {
		cpu = 0
	}
	return a.elem(cpu, i), 0
}

func (a *arrayMap) progUpdate(key, value []byte, flags uint64, cpu int) syscall.Errno {
	i, e := a.updateIndex(key, flags)
	if e != 0 {
		return e
	}
	if !a.percpu() {
		cpu = 0
	}
	a.store(a.elem(cpu, i), value, flags)
	return 0
}

func (a *arrayMap) progDelete(key []byte) syscall.Errno { return errno.EINVAL }

// ValueRegion returns element 0 as a region for LD_IMM64 map-value
// references (global data): read-only for BPF_F_RDONLY_PROG maps.
func (a *arrayMap) valueArea() []byte {
	return a.vals[0][: a.stride*int(a.spec.MaxEntries) : a.stride*int(a.spec.MaxEntries)]
}

// spinLock and spinUnlock implement struct bpf_spin_lock on the 4-byte
// lock word at the start of b.
func spinLock(b []byte) {
	p := (*uint32)(unsafe.Pointer(&b[0]))
	for !atomic.CompareAndSwapUint32(p, 0, 1) {
		spinYield()
	}
}

func spinUnlock(b []byte) {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&b[0])), 0)
}
