package loader

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
)

// LegacyMapDef is the tail of iproute2's struct bpf_elf_map: id, pinning,
// inner_id, inner_idx (a 28-byte definition has only id and pinning).
//
// A 28-byte definition is ambiguous: the kernel's old samples/bpf struct
// bpf_map_def had inner_map_idx and numa_node there instead. It is read as
// iproute2's layout; both are almost always zero.
type LegacyMapDef struct {
	Size     int // bytes of the definition: 20, 24, 28, 32 or 36
	ID       uint32
	Pinning  uint32 // iproute2: 0 none, 1 PIN_OBJECT_NS, 2 PIN_GLOBAL_NS
	InnerID  uint32 // id of the inner map template, for maps of maps
	InnerIdx uint32 // slot of the outer map this map is stored in
}

// iproute2 pinning values.
const (
	legacyPinObjectNS = 1
	legacyPinGlobalNS = 2
)

// parseLegacyTail decodes what follows struct bpf_map_def's five fields in
// a SEC("maps") definition. cilium/ebpf reads the first 20 bytes and hands
// the rest over as Extra: for iproute2's struct bpf_elf_map that is id and
// pinning (28-byte layout) plus inner_id and inner_idx (36-byte layout).
func parseLegacyTail(name string, ms *ebpf.MapSpec) (*LegacyMapDef, error) {
	n := ms.Extra.Size()
	buf := make([]byte, n)
	if _, err := ms.Extra.ReadAt(buf, 0); err != nil {
		return nil, fmt.Errorf("map %s: reading legacy definition: %w", name, err)
	}
	if n%4 != 0 || n > 16 {
		for _, b := range buf[min(int(n), 16):] {
			if b != 0 {
				return nil, fmt.Errorf("map %s: legacy map definition of %d bytes: layout not understood (known: struct bpf_map_def 20 bytes, iproute2 struct bpf_elf_map 28 or 36 bytes): %w", name, 20+n, ErrNotSupported)
			}
		}
	}
	var f [4]uint32
	for i := 0; i < 4 && 4*i+4 <= len(buf); i++ {
		f[i] = binary.LittleEndian.Uint32(buf[4*i:])
	}
	return &LegacyMapDef{Size: 20 + int(n), ID: f[0], Pinning: f[1], InnerID: f[2], InnerIdx: f[3]}, nil
}

// linkLegacyInnerMaps resolves iproute2 map-in-map definitions: an outer
// map names its inner template by id (inner_id == the template's id), and
// the template is stored in the outer map at its inner_idx, as iproute2's
// loader does.
func (o *Object) linkLegacyInnerMaps() error {
	byID := map[uint32]*MapSpec{}
	for _, m := range o.Maps {
		if m.Legacy != nil && m.Legacy.ID != 0 {
			if other := byID[m.Legacy.ID]; other != nil {
				return fmt.Errorf("legacy maps %s and %s share id %d", other.Name, m.Name, m.Legacy.ID)
			}
			byID[m.Legacy.ID] = m
		}
	}
	for _, m := range o.Maps {
		if m.Legacy == nil || m.Legacy.InnerID == 0 {
			continue
		}
		if m.Type != ebpf.ArrayOfMaps && m.Type != ebpf.HashOfMaps {
			return fmt.Errorf("legacy map %s: inner_id %d on a %s, not a map of maps", m.Name, m.Legacy.InnerID, m.Type)
		}
		inner := byID[m.Legacy.InnerID]
		if inner == nil {
			return fmt.Errorf("legacy map %s: inner_id %d names no map", m.Name, m.Legacy.InnerID)
		}
		tmpl := *inner
		tmpl.Contents = nil
		m.InnerMap = &tmpl
		if m.Type == ebpf.ArrayOfMaps && inner.Legacy.InnerIdx >= m.MaxEntries {
			return fmt.Errorf("legacy map %s: inner_idx %d of %s out of range (max_elem %d)", m.Name, inner.Legacy.InnerIdx, inner.Name, m.MaxEntries)
		}
		m.Contents = append(m.Contents, ebpf.MapKV{Key: inner.Legacy.InnerIdx, Value: inner.Name})
	}
	return nil
}
