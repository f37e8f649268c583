package vm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Region numbering. The stack is region 1; regions added per run follow;
// global regions of a Space live in the upper half of the id space so that
// adding one never moves a per-run region and vice versa.
const (
	stackRegion    = 1
	firstRunRegion = 2
	globalBase     = 1 << 31

	stackTotal = StackSize * MaxCallDepth
)

// HandleBase starts the region ids the vm never maps: an embedder may use
// addresses there as opaque handles (a map pointer, say), which fault as
// unmapped when a program dereferences them. The vm's own function
// pointers live just below it (FuncRegion).
const HandleBase RegionID = 0xF000_0000

// StackRegion is the id of the stack region: r10 of frame d (0 for the
// entry function) is Addr(StackRegion, MaxCallDepth*StackSize-d*StackSize).
const StackRegion RegionID = stackRegion

// IsGlobal reports whether id names a global region of a Space.
func (id RegionID) IsGlobal() bool { return id >= globalBase }

type region struct {
	name   string
	data   []byte
	perm   Perm
	access Accessor
	size   uint32
}

func newRegion(r Region) region {
	size := r.Size
	if r.Access == nil || size == 0 {
		// A region larger than the offset space is clipped: no offset can
		// reach past 4 GiB anyway.
		if uint64(len(r.Data)) > OffsetMask {
			size = OffsetMask
		} else {
			size = uint32(len(r.Data))
		}
	}
	data := r.Data
	if r.Access != nil {
		data = nil
	} else if uint64(len(data)) > uint64(size) {
		data = data[:size]
	}
	return region{name: r.Name, data: data, perm: r.Perm, access: r.Access, size: size}
}

type spaceImpl struct {
	mu      sync.Mutex
	globals atomic.Pointer[[]region]
}

func newSpace() *Space { return &Space{} }

func (s *Space) addGlobal(r Region) uint64 {
	s.impl.mu.Lock()
	defer s.impl.mu.Unlock()
	var cur []region
	if p := s.impl.globals.Load(); p != nil {
		cur = *p
	}
	// Copy on write: running machines keep reading the old snapshot.
	next := make([]region, len(cur), len(cur)+1)
	copy(next, cur)
	// Unreachable in practice (1.8e9 regions), but handles must stay unmapped.
	if globalBase+len(cur) >= int(FuncRegion) {
		panic("vm: too many global regions")
	}
	next = append(next, newRegion(r))
	s.impl.globals.Store(&next)
	return Addr(RegionID(globalBase+len(cur)), 0)
}

// Global returns the global region with the given id, as it was added.
func (s *Space) Global(id RegionID) (Region, bool) {
	p := s.impl.globals.Load()
	if p == nil || id < globalBase || int(id-globalBase) >= len(*p) {
		return Region{}, false
	}
	r := (*p)[id-globalBase]
	return Region{Name: r.name, Data: r.data, Perm: r.perm, Access: r.access, Size: r.size}, true
}

// lookup returns the region named by the upper half of addr, or nil.
func (m *Machine) lookup(addr uint64) *region {
	id := addr >> RegionShift
	mi := &m.impl
	switch {
	case id == stackRegion:
		return &mi.stackRegion
	case id >= globalBase:
		p := mi.space.impl.globals.Load()
		if p != nil && id-globalBase < uint64(len(*p)) {
			return &(*p)[id-globalBase]
		}
	case id >= firstRunRegion && id-firstRunRegion < uint64(len(mi.regions)):
		return &mi.regions[id-firstRunRegion]
	}
	return nil
}

// dedupWindow is how many of the latest per-run regions AddRegion checks
// for an identical one, so that a helper looking up the same map value
// again in a loop neither grows the table nor hands out a new address.
const dedupWindow = 8

func (m *Machine) addRegion(r Region) uint64 {
	mi := &m.impl
	nr := newRegion(r)
	for i := len(mi.regions) - 1; i >= 0 && i >= len(mi.regions)-dedupWindow; i-- {
		if sameRegion(&mi.regions[i], &nr) {
			return Addr(RegionID(firstRunRegion+i), 0)
		}
	}
	mi.regions = append(mi.regions, nr)
	return Addr(RegionID(firstRunRegion+len(mi.regions)-1), 0)
}

// sameRegion compares plain regions; accessor regions are never merged
// (an Accessor need not even be comparable).
func sameRegion(a, b *region) bool {
	return a.access == nil && b.access == nil && a.size == b.size && a.perm == b.perm &&
		len(a.data) == len(b.data) && unsafe.SliceData(a.data) == unsafe.SliceData(b.data) &&
		a.name == b.name
}

func (m *Machine) reset() {
	mi := &m.impl
	clear(mi.regions)
	mi.regions = mi.regions[:0]
	mi.invalidateCache()
}

func (mi *machineImpl) invalidateCache() {
	mi.rdID, mi.rdData = stackRegion, mi.stack[:]
	mi.wrID, mi.wrData = stackRegion, mi.stack[:]
}

var errNoByteView = errors.New("region is served by an accessor and has no byte view")

// check validates an access of n bytes at addr; on success it returns the
// region and the offset.
func (m *Machine) check(addr uint64, n int, perm Perm) (*region, uint32, FaultKind) {
	r := m.lookup(addr)
	if r == nil {
		return nil, 0, FaultUnmapped
	}
	off := uint32(addr)
	if n < 0 || uint64(off)+uint64(n) > uint64(r.size) {
		return r, off, FaultBounds
	}
	if r.perm&perm != perm {
		return r, off, FaultPermission
	}
	return r, off, 0
}

func (m *Machine) bytes(addr uint64, n int, perm Perm) ([]byte, error) {
	r, off, kind := m.check(addr, n, perm)
	if kind == 0 && r.access != nil {
		return nil, m.fault(m.impl.pc, addr, n, perm&PermWrite != 0, r, FaultAccessor, errNoByteView)
	}
	if kind != 0 {
		return nil, m.fault(m.impl.pc, addr, n, perm&PermWrite != 0, r, kind, nil)
	}
	return r.data[off : off+uint32(n) : off+uint32(n)], nil
}

// fault builds the error for a failed access by the instruction at pc of
// the current program.
func (m *Machine) fault(pc int, addr uint64, n int, write bool, r *region, kind FaultKind, err error) error {
	f := &Fault{PC: pc, Addr: addr, Size: n, Write: write, Kind: kind, Err: err}
	if p := m.impl.cur; p != nil {
		f.Program = p.Name
		f.Insn = p.insnText(pc)
	}
	if r != nil {
		f.Region = r.name
	}
	return f
}

// insnText renders the instruction at slot pc for messages.
func (p *Program) insnText(pc int) string {
	if i := p.InsnIndex(pc); i >= 0 {
		return fmt.Sprint(p.Insns[i])
	}
	return "?"
}

// loadSlow serves a load the hot path's region cache could not.
// On failure it records the fault in m and returns false.
func (m *Machine) loadSlow(pc int, addr uint64, n int) (uint64, bool) {
	v, err := m.load(pc, addr, n)
	if err != nil {
		m.impl.err = err
		return 0, false
	}
	return v, true
}

func (m *Machine) load(pc int, addr uint64, n int) (uint64, error) {
	r, off, kind := m.check(addr, n, PermRead)
	if kind != 0 {
		return 0, m.fault(pc, addr, n, false, r, kind, nil)
	}
	if r.access != nil {
		v, err := r.access.Load(off, n)
		if err != nil {
			return 0, m.fault(pc, addr, n, false, r, FaultAccessor, err)
		}
		return v, nil
	}
	mi := &m.impl
	mi.rdID, mi.rdData = addr>>RegionShift, r.data
	return loadLE(r.data[off:], n), nil
}

// storeSlow serves a store the hot path's region cache could not.
// On failure it records the fault in m and returns false.
func (m *Machine) storeSlow(pc int, addr uint64, n int, v uint64) bool {
	if err := m.store(pc, addr, n, v); err != nil {
		m.impl.err = err
		return false
	}
	return true
}

func (m *Machine) store(pc int, addr uint64, n int, v uint64) error {
	r, off, kind := m.check(addr, n, PermWrite)
	if kind != 0 {
		return m.fault(pc, addr, n, true, r, kind, nil)
	}
	if r.access != nil {
		if err := r.access.Store(off, n, v); err != nil {
			return m.fault(pc, addr, n, true, r, FaultAccessor, err)
		}
		return nil
	}
	mi := &m.impl
	mi.wrID, mi.wrData = addr>>RegionShift, r.data
	storeLE(r.data[off:], n, v)
	return nil
}

func loadLE(b []byte, n int) uint64 {
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	default:
		return binary.LittleEndian.Uint64(b)
	}
}

func storeLE(b []byte, n int, v uint64) {
	switch n {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}
