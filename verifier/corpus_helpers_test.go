package verifier_test

import (
	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/verifier"
)

// mapSpecsOf turns the maps of a verifier input into specs the kernel
// can create.
func mapSpecsOf(p *verifier.Program) []*loader.MapSpec {
	var out []*loader.MapSpec
	for name, m := range p.Maps {
		spec := &ebpf.MapSpec{Name: name, Type: m.Type, KeySize: m.KeySize, ValueSize: m.ValueSize, MaxEntries: m.MaxEntries, Flags: m.Flags}
		out = append(out, &loader.MapSpec{Name: name, Type: m.Type, KeySize: m.KeySize, ValueSize: m.ValueSize, MaxEntries: m.MaxEntries, Flags: m.Flags, Spec: spec})
	}
	return out
}

// programSpecOf is the kernel load spec of a verifier input.
func programSpecOf(p *verifier.Program) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{Name: "fuzz", Type: p.Type, AttachType: p.AttachType, License: p.License}
}
