package loader

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// MapSpec describes a map the object declares. The runtime creates it.
type MapSpec struct {
	Name       string
	Type       ebpf.MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	// OnePerCPU is set for a perf event array declared with max_entries 0:
	// libbpf sizes it to the number of possible CPUs, and so should the
	// runtime (MaxEntries stays 0 here).
	OnePerCPU bool
	// InnerMap is the template of the maps stored in an array or hash of
	// maps.
	InnerMap *MapSpec
	Pinning  ebpf.PinType
	// Contents are initial entries. For global data: one entry, key
	// uint32(0), value the section's bytes ([]byte, see Data). For a prog
	// array or map of maps declared with __array(values, ...): the value is
	// the name (string) of a program in Object.Programs, or of a map in
	// Object.Maps.
	Contents []ebpf.MapKV
	// GlobalData marks a .data, .bss, .rodata, .data.* or .rodata.*
	// section: an array of one entry whose value programs address directly
	// (LD_IMM64 with asm.PseudoMapValue).
	GlobalData bool
	// ReadOnly is set for .rodata and .rodata.*: programs may read but not
	// write it (BPF_F_RDONLY_PROG is also in Flags).
	ReadOnly bool
	// Key and Value are the BTF types of key and value when the object has
	// them (for global data, Value is the section's *btf.Datasec).
	Key, Value btf.Type
	// Legacy holds the iproute2 struct bpf_elf_map fields beyond the
	// libbpf struct bpf_map_def ones, for maps from SEC("maps"); nil for
	// BTF-defined maps.
	Legacy *LegacyMapDef
	// Spec is the cilium/ebpf spec this was made from (a private copy).
	Spec *ebpf.MapSpec
}

// LegacyMapDef is the tail of iproute2's struct bpf_elf_map: id, pinning,
// inner_id, inner_idx (a 28-byte definition has only id and pinning).
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

// Data returns the initial bytes of a global data section (nil for other
// maps). It is the slice SetVariable and SetConstant write to.
func (m *MapSpec) Data() []byte {
	if !m.GlobalData || len(m.Contents) == 0 {
		return nil
	}
	b, _ := m.Contents[0].Value.([]byte)
	return b
}

func (o *Object) loadMaps(spec *ebpf.CollectionSpec) error {
	names := make([]string, 0, len(spec.Maps))
	for name := range spec.Maps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ms := spec.Maps[name]
		if ms == nil {
			return fmt.Errorf("map %q: nil spec", name)
		}
		if name == ".kconfig" || name == ".ksyms" {
			// Virtual sections for extern variables; a program using them
			// fails in loadProgram with a precise message.
			continue
		}
		m, err := convertMap(name, ms)
		if err != nil {
			return err
		}
		o.Maps[name] = m
	}
	if err := o.linkLegacyInnerMaps(); err != nil {
		return err
	}
	for _, name := range names {
		if m := o.Maps[name]; m != nil {
			o.MapList = append(o.MapList, m)
		}
	}
	return nil
}

func convertMap(name string, ms *ebpf.MapSpec) (*MapSpec, error) {
	m := &MapSpec{
		Name:       name,
		Type:       ms.Type,
		KeySize:    ms.KeySize,
		ValueSize:  ms.ValueSize,
		MaxEntries: ms.MaxEntries,
		Flags:      ms.Flags,
		Pinning:    ms.Pinning,
		Key:        ms.Key,
		Value:      ms.Value,
		Spec:       ms,
	}
	if ms.Type == ebpf.PerfEventArray && ms.MaxEntries == 0 {
		m.OnePerCPU = true
	}
	if isDataSection(name) && ms.Type == ebpf.Array && ms.MaxEntries == 1 {
		m.GlobalData = true
		m.ReadOnly = isReadOnlySection(name)
		if len(ms.Contents) != 1 {
			return nil, fmt.Errorf("data section %s: %d initial entries, want 1", name, len(ms.Contents))
		}
		data, ok := ms.Contents[0].Value.([]byte)
		if !ok || uint32(len(data)) != ms.ValueSize {
			return nil, fmt.Errorf("data section %s: initial value is not %d bytes", name, ms.ValueSize)
		}
	}
	m.Contents = append(m.Contents, ms.Contents...)
	if ms.InnerMap != nil {
		inner, err := convertMap(name+".inner", ms.InnerMap)
		if err != nil {
			return nil, err
		}
		m.InnerMap = inner
	}
	if ms.Extra != nil && ms.Extra.Size() > 0 {
		def, err := parseLegacyTail(name, ms)
		if err != nil {
			return nil, err
		}
		m.Legacy = def
		if def.Pinning == legacyPinGlobalNS || def.Pinning == legacyPinObjectNS {
			m.Pinning = ebpf.PinByName
		}
	}
	return m, nil
}

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

// Variable is a named global variable in a data section.
type Variable struct {
	Name    string
	Section string // ".rodata", ".data", ".bss", ".data.foo", ...
	Offset  uint32 // byte offset in the section
	Size    uint32
	// ReadOnly variables live in .rodata*: `const volatile` configuration
	// set with SetConstant before the object is loaded.
	ReadOnly bool
	Type     *btf.Var // nil without BTF
	spec     *ebpf.VariableSpec
}

func (o *Object) loadVariables(spec *ebpf.CollectionSpec) {
	for name, vs := range spec.Variables {
		if vs == nil || o.Maps[vs.SectionName] == nil {
			continue
		}
		o.Variables[name] = &Variable{
			Name:     name,
			Section:  vs.SectionName,
			Offset:   vs.Offset,
			Size:     vs.Size(),
			ReadOnly: isReadOnlySection(vs.SectionName),
			Type:     vs.Type,
			spec:     vs,
		}
	}
}

// SetConstant sets a `const volatile` variable (in .rodata or .rodata.*)
// before the object is loaded, as cilium/ebpf's VariableSpec.Set and
// libbpf skeletons' rodata do. value is encoded in the host's byte order
// (as cilium/ebpf does; BPF objects for x86 and arm64 are little endian)
// and must have the variable's size (uint32 for a __u32, a struct of the
// same layout, a []byte ...).
func (o *Object) SetConstant(name string, value any) error {
	v, err := o.variable(name)
	if err != nil {
		return err
	}
	if !v.ReadOnly {
		return fmt.Errorf("variable %s is in %s, not a constant (use SetVariable)", name, v.Section)
	}
	return o.set(v, value)
}

// SetVariable sets the initial value of any global variable (.data, .bss,
// .rodata, ...).
func (o *Object) SetVariable(name string, value any) error {
	v, err := o.variable(name)
	if err != nil {
		return err
	}
	return o.set(v, value)
}

func (o *Object) variable(name string) (*Variable, error) {
	v := o.Variables[name]
	if v == nil {
		have := make([]string, 0, len(o.Variables))
		for n := range o.Variables {
			have = append(have, n)
		}
		sort.Strings(have)
		return nil, fmt.Errorf("no global variable %q (have: %s)", name, strings.Join(have, ", "))
	}
	return v, nil
}

func (o *Object) set(v *Variable, value any) error {
	tmp := v.spec.Copy()
	if err := tmp.Set(value); err != nil {
		return fmt.Errorf("variable %s: %w", v.Name, err)
	}
	if uint32(len(tmp.Value)) != v.Size {
		return fmt.Errorf("variable %s: value is %d bytes, variable is %d", v.Name, len(tmp.Value), v.Size)
	}
	data := o.Maps[v.Section].Data()
	if data == nil || uint64(v.Offset)+uint64(v.Size) > uint64(len(data)) {
		return fmt.Errorf("variable %s: outside section %s", v.Name, v.Section)
	}
	copy(data[v.Offset:], tmp.Value)
	v.spec.Value = tmp.Value
	return nil
}
