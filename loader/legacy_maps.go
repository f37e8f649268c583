package loader

import (
	"encoding/binary"
	"fmt"
	"sort"

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

// noPrepopulate is inner_idx -1 (Cilium's NO_PREPOPULATE): the template
// is not stored in any outer map.
const noPrepopulate = 0xffffffff

// ResolveLegacyMaps applies iproute2's loader (lib/bpf_legacy.c) to the
// legacy struct bpf_elf_map definitions of spec, in place, so that the
// spec can be created by cilium/ebpf (a kernel) as iproute2 and Cilium 1.x
// create it:
//
//   - the definition's tail (id, pinning, inner_id, inner_idx) is read and
//     removed from MapSpec.Extra;
//   - a map of maps with inner_id X gets as InnerMap the template: the map
//     with id X that is not itself a map of maps;
//   - a template whose inner_idx is not -1 (Cilium's NO_PREPOPULATE) is
//     stored at key inner_idx of every map of maps whose inner_id is its
//     id, as iproute2 does once all maps exist.
//
// It returns the definitions by map name. A map of maps with inner_id 0
// is left without InnerMap, as iproute2 refuses it ("no inner map ID
// defined"); creating it fails.
func ResolveLegacyMaps(spec *ebpf.CollectionSpec) (map[string]*LegacyMapDef, error) {
	defs := map[string]*LegacyMapDef{}
	names := make([]string, 0, len(spec.Maps))
	for name, ms := range spec.Maps {
		if ms == nil || ms.Extra == nil || ms.Extra.Size() == 0 {
			continue
		}
		def, err := parseLegacyTail(name, ms)
		if err != nil {
			return nil, err
		}
		defs[name] = def
		ms.Extra = nil
		names = append(names, name)
	}
	// Section order is not kept by cilium/ebpf; name order makes the
	// choice among maps sharing an id deterministic.
	sort.Strings(names)
	isOuter := func(ms *ebpf.MapSpec) bool { return ms.Type == ebpf.ArrayOfMaps || ms.Type == ebpf.HashOfMaps }
	for _, name := range names {
		outer, def := spec.Maps[name], defs[name]
		if def.InnerID == 0 {
			continue
		}
		if !isOuter(outer) {
			return nil, fmt.Errorf("legacy map %s: inner_id %d on a %s, not a map of maps", name, def.InnerID, outer.Type)
		}
		var tmpl string
		for _, cand := range names {
			if cand != name && defs[cand].ID == def.InnerID && !isOuter(spec.Maps[cand]) {
				tmpl = cand
				break
			}
		}
		if tmpl == "" {
			return nil, fmt.Errorf("legacy map %s: inner_id %d names no map", name, def.InnerID)
		}
		inner := spec.Maps[tmpl].Copy()
		inner.Contents = nil
		inner.Pinning = ebpf.PinNone
		outer.InnerMap = inner
	}
	for _, tmplName := range names {
		tdef, tmpl := defs[tmplName], spec.Maps[tmplName]
		if tdef.ID == 0 || tdef.InnerID != 0 || tdef.InnerIdx == noPrepopulate || isOuter(tmpl) {
			continue
		}
		for _, name := range names {
			outer, def := spec.Maps[name], defs[name]
			if !isOuter(outer) || def.InnerID != tdef.ID {
				continue
			}
			if outer.Type == ebpf.ArrayOfMaps && tdef.InnerIdx >= outer.MaxEntries {
				return nil, fmt.Errorf("legacy map %s: inner_idx %d of %s out of range (max_elem %d)", name, tdef.InnerIdx, tmplName, outer.MaxEntries)
			}
			outer.Contents = append(outer.Contents, ebpf.MapKV{Key: legacyKey(tdef.InnerIdx, outer.KeySize), Value: tmplName})
		}
	}
	return defs, nil
}

// legacyKey is inner_idx as the outer map's key: iproute2 passes a
// pointer to the u32, so the key is its first key_size bytes.
func legacyKey(idx, size uint32) any {
	if size == 4 {
		return idx
	}
	b := make([]byte, size)
	var le [4]byte
	binary.LittleEndian.PutUint32(le[:], idx)
	copy(b, le[:])
	return b
}
