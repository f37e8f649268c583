package verifier

import "github.com/skmsg/skmsg/loader"

// FromLoader builds the Verify input for program p of obj.
func FromLoader(obj *loader.Object, p *loader.ProgramSpec) *Program {
	vp := &Program{
		Name: p.Name, Type: p.Type, AttachType: p.AttachType,
		Instructions: p.Instructions, License: p.License,
		Maps: map[string]*Map{},
	}
	for _, name := range p.Maps {
		if ms, ok := obj.Maps[name]; ok {
			vp.Maps[name] = mapFromLoader(ms)
		}
	}
	return vp
}

func mapFromLoader(ms *loader.MapSpec) *Map {
	if ms == nil {
		return nil
	}
	m := &Map{
		Name: ms.Name, Type: ms.Type, KeySize: ms.KeySize, ValueSize: ms.ValueSize,
		MaxEntries: ms.MaxEntries, Flags: ms.Flags, Value: ms.Value,
		InnerMap: mapFromLoader(ms.InnerMap),
	}
	if ms.GlobalData && ms.ReadOnly {
		m.Flags |= flagRdonlyProg
		m.Frozen = ms.Data()
	}
	return m
}

// BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG: the program may only read
// (write) the map's values.
const (
	flagRdonlyProg = 1 << 7
	flagWronlyProg = 1 << 8
)

// readConst reads size bytes at off of a frozen read-only map's value
// (bpf_map_direct_read), little endian.
func (m *Map) readConst(off, size int) (uint64, bool) {
	if m.Frozen == nil || off < 0 || off+size > len(m.Frozen) {
		return 0, false
	}
	var v uint64
	for i := size - 1; i >= 0; i-- {
		v = v<<8 | uint64(m.Frozen[off+i])
	}
	return v, true
}
