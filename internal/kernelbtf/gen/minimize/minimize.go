// Package minimize cuts a kernel's BTF down to the types skmsg backs with
// memory (see Roots) and what they hold by value.
package minimize

import (
	"fmt"
	"io"
	"sort"

	"github.com/cilium/ebpf/btf"
)

// Roots are the kernel types whose layout skmsg needs: what
// bpf_skc_to_*_sock, bpf_sk_fullsock, bpf_tcp_sock and
// bpf_get_current_task_btf point to, and what BPF_CORE_READ chains
// commonly walk from them.
var Roots = []string{
	"sock_common", "sock", "inet_sock", "inet_connection_sock", "tcp_sock",
	"tcp6_sock", "tcp_timewait_sock", "tcp_request_sock", "request_sock",
	"inet_timewait_sock", "udp_sock", "udp6_sock", "unix_sock", "mptcp_sock",
	"ipv6_pinfo", "socket", "task_struct", "nsproxy", "net", "ns_common",
	"cred", "pid", "upid",
}

// EnumRoots are kernel enums programs test with
// bpf_core_enum_value_exists(), most often to ask whether a helper exists
// (enum bpf_func_id) before calling it. bpf_map_type and sk_action are in
// the context BTF.
var EnumRoots = []string{"bpf_func_id", "bpf_prog_type", "bpf_attach_type"}

// FromReader minimises the BTF in r (raw BTF or an ELF with a .BTF
// section) and returns it as raw BTF.
func FromReader(r io.ReaderAt) ([]byte, error) {
	spec, err := btf.LoadSpecFromReader(r)
	if err != nil {
		return nil, fmt.Errorf("read kernel BTF: %w", err)
	}
	keep := map[string]bool{}
	for _, n := range Roots {
		keep[n] = true
	}
	var roots []btf.Type
	for _, n := range Roots {
		var s *btf.Struct
		if err := spec.TypeByName(n, &s); err != nil {
			return nil, fmt.Errorf("kernel BTF: struct %s: %w", n, err)
		}
		roots = append(roots, s)
	}
	for _, n := range EnumRoots {
		var e *btf.Enum
		if err := spec.TypeByName(n, &e); err != nil {
			return nil, fmt.Errorf("kernel BTF: enum %s: %w", n, err)
		}
		roots = append(roots, e)
	}
	// Copy the roots together so that shared types stay shared, then cut
	// the pointers that lead elsewhere.
	copied := btf.Copy(&btf.Struct{Name: "skmsg_roots", Members: membersOf(roots)}).(*btf.Struct)
	fwds := map[string]*btf.Fwd{}
	seen := map[btf.Type]bool{}
	var walk func(t btf.Type)
	walk = func(t btf.Type) {
		if t == nil || seen[t] {
			return
		}
		seen[t] = true
		switch v := t.(type) {
		case *btf.Pointer:
			target := btf.UnderlyingType(v.Target)
			name := target.TypeName()
			if isComposite(target) && !keep[name] {
				kind := btf.FwdStruct
				if _, ok := target.(*btf.Union); ok {
					kind = btf.FwdUnion
				}
				if name == "" {
					v.Target = &btf.Void{}
					return
				}
				key := fmt.Sprintf("%d:%s", kind, name)
				if fwds[key] == nil {
					fwds[key] = &btf.Fwd{Name: name, Kind: kind}
				}
				v.Target = fwds[key]
				return
			}
			if _, isFunc := target.(*btf.FuncProto); isFunc {
				// Function pointers: the prototype's argument types would
				// pull in half the kernel; nothing reads through them.
				v.Target = &btf.Void{}
				return
			}
			walk(v.Target)
		case *btf.Struct:
			for i := range v.Members {
				walk(v.Members[i].Type)
			}
		case *btf.Union:
			for i := range v.Members {
				walk(v.Members[i].Type)
			}
		case *btf.Array:
			walk(v.Type)
			walk(v.Index)
		case *btf.Typedef:
			walk(v.Type)
		case *btf.Volatile:
			walk(v.Type)
		case *btf.Const:
			walk(v.Type)
		case *btf.Restrict:
			walk(v.Type)
		case *btf.TypeTag:
			walk(v.Type)
		}
	}
	walk(copied)
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		return nil, err
	}
	// Add the roots first and in a fixed order so that the output is
	// reproducible.
	for _, m := range copied.Members {
		if _, err := b.Add(m.Type); err != nil {
			return nil, fmt.Errorf("add %s: %w", m.Type.TypeName(), err)
		}
	}
	return b.Marshal(nil, nil)
}

func membersOf(types []btf.Type) []btf.Member {
	out := make([]btf.Member, len(types))
	for i, t := range types {
		out[i] = btf.Member{Name: fmt.Sprintf("m%d", i), Type: t}
	}
	return out
}

// Names lists the named types of a minimised spec, sorted (for tests and
// messages).
func Names(spec *btf.Spec) []string {
	var out []string
	for t, err := range spec.All() {
		if err != nil {
			break
		}
		if n := t.TypeName(); n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func isComposite(t btf.Type) bool {
	switch t.(type) {
	case *btf.Struct, *btf.Union:
		return true
	}
	return false
}
