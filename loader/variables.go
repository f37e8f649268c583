package loader

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

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
