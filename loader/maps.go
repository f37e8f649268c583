package loader

import (
	"fmt"
	"sort"

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
	legacy, err := ResolveLegacyMaps(spec)
	if err != nil {
		return err
	}
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
		if def := legacy[name]; def != nil {
			m.Legacy = def
			if def.Pinning == legacyPinGlobalNS || def.Pinning == legacyPinObjectNS {
				m.Pinning = ebpf.PinByName
			}
		}
		o.Maps[name] = m
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
	return m, nil
}
