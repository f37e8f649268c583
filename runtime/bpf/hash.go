package bpf

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
)

// hashMap is BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH and
// HASH_OF_MAPS.
//
// Elements sit in a Go map for lookups and on a list that gives the
// get_next_key order (insertion order; the kernel's is its bucket order,
// which depends on a random seed). A value handed to a program is never
// reused: replacing an element allocates a fresh value, as the kernel's
// RCU-freed elements stay valid for a running program.
//
// LRU maps evict with a second-chance clock over the same list: lookups
// from programs set a reference bit without taking the lock (as the
// kernel's bpf_lru_node_set_ref), eviction skips and clears referenced
// elements once.
type hashMap struct {
	*base
	mu         sync.RWMutex
	elems      map[string]*hentry
	head, tail *hentry
	lru        bool
	pcpu       bool
	stride     int
	ofMaps     bool
}

type hentry struct {
	key        string
	vals       [][]byte // one value, or one per CPU
	inner      Map      // hash of maps
	ref        atomic.Bool
	prev, next *hentry
}

func newHash(b *base) *hashMap {
	h := &hashMap{
		base:   b,
		elems:  make(map[string]*hentry),
		lru:    b.spec.Type == ebpf.LRUHash || b.spec.Type == ebpf.LRUCPUHash,
		pcpu:   b.percpu(),
		stride: int(roundUp8(b.spec.ValueSize)),
		ofMaps: b.spec.Type == ebpf.HashOfMaps,
	}
	b.init(h)
	return h
}

func (h *hashMap) link(e *hentry) {
	e.prev, e.next = h.tail, nil
	if h.tail != nil {
		h.tail.next = e
	} else {
		h.head = e
	}
	h.tail = e
}

func (h *hashMap) unlink(e *hentry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		h.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		h.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// replace puts n where o was in the order.
func (h *hashMap) replace(o, n *hentry) {
	n.prev, n.next = o.prev, o.next
	if o.prev != nil {
		o.prev.next = n
	} else {
		h.head = n
	}
	if o.next != nil {
		o.next.prev = n
	} else {
		h.tail = n
	}
	h.elems[n.key] = n
}

func (h *hashMap) newVals() [][]byte {
	n := 1
	if h.pcpu {
		n = h.ncpu
	}
	vals := make([][]byte, n)
	buf := make([]byte, h.stride*n)
	for i := range vals {
		vals[i] = buf[i*h.stride : i*h.stride+int(h.spec.ValueSize) : i*h.stride+int(h.spec.ValueSize)]
	}
	return vals
}

// evict frees one element of a full LRU map.
func (h *hashMap) evict() {
	for scans := 2 * len(h.elems); scans > 0 && h.head != nil; scans-- {
		e := h.head
		if e.ref.Load() {
			e.ref.Store(false)
			h.unlink(e)
			h.link(e)
			continue
		}
		h.unlink(e)
		delete(h.elems, e.key)
		return
	}
	if e := h.head; e != nil {
		h.unlink(e)
		delete(h.elems, e.key)
	}
}

// update inserts or replaces key. sys says the value comes from user space
// (all CPUs of a per-CPU map) rather than from a program running on cpu.
func (h *hashMap) update(key, value []byte, flags uint64, sys bool, cpu int) syscall.Errno {
	if h.lru || h.pcpu || h.ofMaps {
		if flags > UpdateExist {
			return errno.EINVAL
		}
	} else if e := checkUpdateFlags(flags); e != 0 {
		return e
	}
	op := flags &^ UpdateLock
	if flags&UpdateLock != 0 {
		h.mu.RLock()
		old := h.elems[string(key)]
		if old != nil && op != UpdateNoExist {
			storeValue(old.vals[0], value, h.spec.SpinLockOff, true)
			h.mu.RUnlock()
			return 0
		}
		h.mu.RUnlock()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.elems[string(key)]
	if old != nil && op == UpdateNoExist {
		return errno.EEXIST
	}
	if old == nil && op == UpdateExist {
		return errno.ENOENT
	}
	if h.pcpu && old != nil {
		// Per-CPU elements are updated in place.
		h.storeVals(old.vals, value, sys, cpu, false)
		if h.lru {
			old.ref.Store(true)
		}
		return 0
	}
	if old == nil && uint32(len(h.elems)) >= h.spec.MaxEntries {
		if !h.lru {
			return errno.E2BIG
		}
		h.evict()
	}
	n := &hentry{vals: h.newVals()}
	if old != nil {
		n.key = old.key
	} else {
		n.key = string(key)
	}
	h.storeVals(n.vals, value, sys, cpu, true)
	if old != nil {
		if h.lru {
			h.unlink(old)
			h.link(n)
			h.elems[n.key] = n
		} else {
			h.replace(old, n)
		}
		return 0
	}
	h.elems[n.key] = n
	h.link(n)
	return 0
}

// storeVals writes a value; a program's update of a per-CPU element
// writes its CPU's value only, zeroing the others' in a fresh element.
func (h *hashMap) storeVals(vals [][]byte, value []byte, sys bool, cpu int, fresh bool) {
	switch {
	case !h.pcpu:
		storeValue(vals[0], value, h.spec.SpinLockOff, false)
	case sys:
		for c := range vals {
			copy(vals[c], value[c*h.stride:])
		}
	default:
		for c := range vals {
			if c == cpu {
				copy(vals[c], value)
			} else if fresh {
				clear(vals[c])
			}
		}
	}
}

func (h *hashMap) sysLookup(key []byte) ([]byte, syscall.Errno) {
	h.mu.RLock()
	e := h.elems[string(key)]
	h.mu.RUnlock()
	if e == nil {
		return nil, errno.ENOENT
	}
	if h.ofMaps {
		out := make([]byte, 4)
		binary.NativeEndian.PutUint32(out, e.inner.(interface{ ID() uint32 }).ID())
		return out, 0
	}
	if !h.pcpu {
		return e.vals[0], 0
	}
	out := make([]byte, h.stride*h.ncpu)
	for c, v := range e.vals {
		copy(out[c*h.stride:], v)
	}
	return out, 0
}

func (h *hashMap) sysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if h.ofMaps {
		return errno.EINVAL // needs a map, not bytes: see SetInner
	}
	return h.update(key, value, flags, true, 0)
}

func (h *hashMap) sysDelete(key []byte) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.elems[string(key)]
	if e == nil {
		return errno.ENOENT
	}
	h.unlink(e)
	delete(h.elems, e.key)
	return 0
}

func (h *hashMap) nextKey(key, next []byte) syscall.Errno {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var n *hentry
	if key != nil {
		if e := h.elems[string(key)]; e != nil {
			n = e.next
			if n == nil {
				return errno.ENOENT
			}
		}
	}
	if n == nil {
		n = h.head
	}
	if n == nil {
		return errno.ENOENT
	}
	copy(next, n.key)
	return 0
}

func (h *hashMap) progLookup(key []byte, cpu int) ([]byte, syscall.Errno) {
	h.mu.RLock()
	e := h.elems[string(key)]
	h.mu.RUnlock()
	if e == nil {
		return nil, errno.ENOENT
	}
	if h.lru && !e.ref.Load() {
		e.ref.Store(true)
	}
	if h.pcpu {
		return e.vals[cpu], 0
	}
	return e.vals[0], 0
}

func (h *hashMap) progUpdate(key, value []byte, flags uint64, cpu int) syscall.Errno {
	if h.ofMaps {
		return errno.EINVAL
	}
	return h.update(key, value, flags, false, cpu)
}

func (h *hashMap) progDelete(key []byte) syscall.Errno { return h.sysDelete(key) }

// Len is the number of elements.
func (h *hashMap) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.elems)
}

// innerLookup is what a program's lookup in a hash of maps returns.
func (h *hashMap) innerLookup(key []byte) Map {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if e := h.elems[string(key)]; e != nil {
		return e.inner
	}
	return nil
}

// SetInner stores inner under key of a hash of maps.
func (h *hashMap) SetInner(key []byte, inner Map, flags uint64) error {
	if !h.ofMaps {
		return h.fail("update", errno.EINVAL, "not a map of maps")
	}
	if err := h.canWrite("update"); err != nil {
		return err
	}
	if err := h.checkKey("update", key); err != nil {
		return err
	}
	if err := innerCompatible(h.base, inner); err != nil {
		return err
	}
	if flags > UpdateExist {
		return h.fail("update", errno.EINVAL, "")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.elems[string(key)]
	switch {
	case old != nil && flags == UpdateNoExist:
		return h.fail("update", errno.EEXIST, "")
	case old == nil && flags == UpdateExist:
		return h.fail("update", errno.ENOENT, "")
	case old == nil && uint32(len(h.elems)) >= h.spec.MaxEntries:
		return h.fail("update", errno.E2BIG, "")
	}
	n := &hentry{key: string(key), inner: inner}
	if old != nil {
		h.replace(old, n)
	} else {
		h.elems[n.key] = n
		h.link(n)
	}
	return nil
}

// Inner returns the map stored under key.
func (h *hashMap) Inner(key []byte) (Map, error) {
	if err := h.checkKey("lookup", key); err != nil {
		return nil, err
	}
	if m := h.innerLookup(key); m != nil {
		return m, nil
	}
	return nil, h.fail("lookup", errno.ENOENT, "")
}

// innerCompatible is bpf_map_meta_equal: an inner map must match the
// template in type, key and value size and flags; max_entries too unless
// the template has BPF_F_INNER_MAP.
func innerCompatible(outer *base, inner Map) error {
	t := outer.spec.InnerMap
	ok := inner.Type() == t.Type && inner.KeySize() == t.KeySize && inner.ValueSize() == t.ValueSize &&
		inner.Flags() == t.Flags &&
		(inner.MaxEntries() == t.MaxEntries || t.Flags&FlagInnerMap != 0 && t.Type == ebpf.Array)
	if !ok {
		return outer.fail("update", errno.EINVAL, "inner map "+inner.Name()+" does not match the template")
	}
	if _, ok := inner.(interface{ ID() uint32 }); !ok {
		return outer.fail("update", errno.EINVAL, "inner map "+inner.Name()+" has no id")
	}
	return nil
}
