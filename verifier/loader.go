package verifier

import "github.com/skmsg/skmsg/loader"

// FromLoader builds the Verify input for program p of obj.
func FromLoader(obj *loader.Object, p *loader.Program) *Program {
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
	}
	return m
}

// BPF_F_RDONLY_PROG: the program may only read the map's values.
const flagRdonlyProg = 1 << 7
