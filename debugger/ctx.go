package debugger

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// ctxType is the layout of a program's context (struct sk_msg_md,
// __sk_buff, bpf_sock_ops) as the program's own BTF describes it: the
// entry function's first parameter is a pointer to it, and the uapi
// header the program was compiled with defines every field.
type ctxType struct {
	name   string // "sk_msg_md"
	param  string // the C parameter's name: "msg", "skb", "skops"
	fields []ctxField
}

// ctxField is one scalar or pointer member, anonymous unions flattened and
// arrays expanded (args[0], args[1], ...).
type ctxField struct {
	name string
	off  uint32
	size int
	ptr  bool
}

var errNoCtxBTF = errors.New("the program has no BTF for its context (compile with -g)")

func (p *program) ctxType() (*ctxType, error) {
	if p.ctx != nil {
		return p.ctx, nil
	}
	if len(p.vm.Insns) == 0 {
		return nil, errNoCtxBTF
	}
	fn := btf.FuncMetadata(&p.vm.Insns[0])
	if fn == nil {
		return nil, errNoCtxBTF
	}
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok || len(proto.Params) == 0 {
		return nil, errNoCtxBTF
	}
	ptr, ok := btf.UnderlyingType(proto.Params[0].Type).(*btf.Pointer)
	if !ok {
		return nil, fmt.Errorf("%s's first parameter is not a pointer: %w", p.name, errNoCtxBTF)
	}
	st, ok := btf.UnderlyingType(ptr.Target).(*btf.Struct)
	if !ok {
		return nil, fmt.Errorf("%s's context is not a struct: %w", p.name, errNoCtxBTF)
	}
	ct := &ctxType{name: st.Name, param: proto.Params[0].Name}
	flatten(&ct.fields, "", 0, st.Members)
	p.ctx = ct
	return ct, nil
}

// flatten appends the fields of members at base under prefix.
func flatten(out *[]ctxField, prefix string, base uint32, members []btf.Member) {
	for _, m := range members {
		if m.BitfieldSize != 0 || m.Offset%8 != 0 {
			continue // no uapi context has bitfields
		}
		off := base + uint32(m.Offset/8)
		name := m.Name
		if prefix != "" && name != "" {
			name = prefix + "." + name
		} else if name == "" {
			name = prefix
		}
		addType(out, name, off, m.Type)
	}
}

func addType(out *[]ctxField, name string, off uint32, t btf.Type) {
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		flatten(out, name, off, u.Members)
	case *btf.Union:
		flatten(out, name, off, u.Members)
	case *btf.Array:
		sz, err := btf.Sizeof(u.Type)
		if err != nil || u.Nelems > 64 {
			return
		}
		for i := uint32(0); i < u.Nelems; i++ {
			addType(out, fmt.Sprintf("%s[%d]", name, i), off+i*uint32(sz), u.Type)
		}
	case *btf.Pointer:
		*out = append(*out, ctxField{name: name, off: off, size: 8, ptr: true})
	case *btf.Int, *btf.Enum:
		sz, err := btf.Sizeof(u)
		if err != nil || name == "" {
			return
		}
		switch sz {
		case 1, 2, 4, 8:
			*out = append(*out, ctxField{name: name, off: off, size: sz})
		}
	}
}

func (c *ctxType) field(name string) (ctxField, bool) {
	for _, f := range c.fields {
		if f.name == name {
			return f, true
		}
	}
	return ctxField{}, false
}
