package bpf

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// FromMapSpec converts a map spec parsed by cilium/ebpf (from an ELF
// object) into a Spec: global data keeps its initial contents, and
// BPF_F_RDONLY_PROG maps (.rodata) are frozen after creation as cilium
// and libbpf do. Contents of maps of maps and program arrays (names of
// maps and programs) are left to the caller.
func FromMapSpec(ms *ebpf.MapSpec) (Spec, error) {
	s := Spec{
		Name:       ms.Name,
		Type:       ms.Type,
		KeySize:    ms.KeySize,
		ValueSize:  ms.ValueSize,
		MaxEntries: ms.MaxEntries,
		Flags:      ms.Flags,
		Freeze:     ms.Flags&FlagRdonlyProg != 0,
	}
	// The sizes cilium/ebpf and libbpf fill in for the kernel (a perf
	// event array's value type is dropped by the ELF reader): New fills
	// them in too, and so the max_entries of a perf event array, which
	// depends on the CPUs of the machine.
	s = loaderDefaults(s, nil)
	if ms.InnerMap != nil {
		in, err := FromMapSpec(ms.InnerMap)
		if err != nil {
			return Spec{}, err
		}
		in.Freeze = false
		s.InnerMap = &in
	}
	if ms.Type == ebpf.Array && len(ms.Contents) > 0 {
		for _, kv := range ms.Contents {
			k, ok := kv.Key.(uint32)
			v, okv := kv.Value.([]byte)
			if !ok || !okv || k != 0 {
				if !ok || k != 0 || !okv {
					continue // initial array contents other than global data are the caller's
				}
			}
			s.Contents = v
		}
	}
	if len(s.Contents) > int(s.ValueSize) {
		return Spec{}, fmt.Errorf("map %s: %d bytes of contents for a %d-byte value", ms.Name, len(s.Contents), s.ValueSize)
	}
	return s, nil
}
