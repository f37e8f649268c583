package bpf

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/skmsg/skmsg/vm"
)

// HandleRegionBase is the first vm region id used for map handles. A
// program gets a map as the 64-bit value of an LD_IMM64 pseudo map
// instruction; handles are addresses in regions no vm ever maps, so a
// program that dereferences one faults instead of reading anything.
const HandleRegionBase = 0xFFF00000

// maxHandles bounds the maps of one registry (handles stay below region
// 0xFFFFFFFF).
const maxHandles = 0xFFFFF

// Registry assigns each map a handle (what LD_IMM64 map references load
// and what helpers get as their map argument) and resolves handles back.
// Lookups are lock-free.
type Registry struct {
	mu    sync.Mutex // serializes Add
	maps  atomic.Pointer[[]registered]
	index sync.Map // Raw → uint64
}

type registered struct {
	m          Raw
	regionName string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{}
	r.maps.Store(&[]registered{})
	return r
}

// Add registers m (idempotent) and returns its handle.
func (r *Registry) Add(m Raw) (uint64, error) {
	if h, ok := r.index.Load(m); ok {
		return h.(uint64), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if h, ok := r.index.Load(m); ok {
		return h.(uint64), nil
	}
	old := *r.maps.Load()
	if len(old) >= maxHandles {
		return 0, fmt.Errorf("map %s: registry full (%d maps)", m.Name(), len(old))
	}
	next := make([]registered, len(old), len(old)+1)
	copy(next, old)
	next = append(next, registered{m: m, regionName: "map_value(" + m.Name() + ")"})
	h := vm.Addr(vm.RegionID(HandleRegionBase+len(old)), 0)
	r.maps.Store(&next)
	r.index.Store(m, h)
	return h, nil
}

// Handle returns the handle of a registered map.
func (r *Registry) Handle(m Raw) (uint64, bool) {
	h, ok := r.index.Load(m)
	if !ok {
		return 0, false
	}
	return h.(uint64), true
}

func (r *Registry) lookup(h uint64) *registered {
	if h&vm.OffsetMask != 0 {
		return nil
	}
	id := h >> vm.RegionShift
	if id < HandleRegionBase {
		return nil
	}
	all := *r.maps.Load()
	i := id - HandleRegionBase
	if i >= uint64(len(all)) {
		return nil
	}
	return &all[i]
}

// Map resolves a handle.
func (r *Registry) Map(h uint64) (Raw, bool) {
	if e := r.lookup(h); e != nil {
		return e.m, true
	}
	return nil, false
}

// ValueRegion returns the values of an array map as one region, for
// BPF_PSEUDO_MAP_VALUE references (global data .data/.bss/.rodata and
// direct array value access): the runtime maps it once with
// Space.AddGlobal and resolves map-value references to base+offset.
// Values are laid out every round_up(value_size, 8) bytes, as the
// kernel's array map. BPF_F_RDONLY_PROG maps (.rodata) are read-only.
func ValueRegion(m Raw) (vm.Region, error) {
	a, ok := m.(*arrayMap)
	if !ok || a.spec.Type != ebpf.Array {
		return vm.Region{}, fmt.Errorf("map %s: direct value access needs an array map, not %s", m.Name(), m.Type())
	}
	perm := vm.PermRW
	if !a.progWritable() {
		perm = vm.PermRead
	}
	return vm.Region{Name: a.spec.Name, Data: a.valueArea(), Perm: perm}, nil
}
