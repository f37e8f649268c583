package loader

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
)

// typeNames are the section names ParseProgramType knows, with the type
// and expected attach type libbpf gives them.
var typeNames = map[string]struct {
	typ    ebpf.ProgramType
	attach ebpf.AttachType
}{
	"sk_msg":                {ebpf.SkMsg, ebpf.AttachSkMsgVerdict},
	"sk_skb/stream_parser":  {ebpf.SkSKB, ebpf.AttachSkSKBStreamParser},
	"sk_skb/stream_verdict": {ebpf.SkSKB, ebpf.AttachSkSKBStreamVerdict},
	"sk_skb/verdict":        {ebpf.SkSKB, ebpf.AttachSkSKBVerdict},
	"sk_skb":                {ebpf.SkSKB, ebpf.AttachNone},
	"sockops":               {ebpf.SockOps, ebpf.AttachCGroupSockOps},
	"socket":                {ebpf.SocketFilter, ebpf.AttachNone},
	"tc":                    {ebpf.SchedCLS, ebpf.AttachNone},
	"classifier":            {ebpf.SchedCLS, ebpf.AttachNone},
	"action":                {ebpf.SchedACT, ebpf.AttachNone},
	"xdp":                   {ebpf.XDP, ebpf.AttachXDP},
	"cgroup_skb/ingress":    {ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress},
	"cgroup_skb/egress":     {ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress},
	"flow_dissector":        {ebpf.FlowDissector, ebpf.AttachFlowDissector},
	"sk_lookup":             {ebpf.SkLookup, ebpf.AttachSkLookup},
}

// ParseProgramType reads a program type as a libbpf section name
// ("sk_msg", "sk_skb/stream_verdict", "sockops", ...), which also gives the
// expected attach type, or as a cilium/ebpf ProgramType name ("SkMsg",
// case-insensitive), which gives no attach type.
func ParseProgramType(s string) (ebpf.ProgramType, ebpf.AttachType, error) {
	if t, ok := typeNames[s]; ok {
		return t.typ, t.attach, nil
	}
	for t := ebpf.UnspecifiedProgram + 1; t < 64; t++ {
		name := t.String()
		if strings.HasPrefix(name, "ProgramType(") {
			continue
		}
		if strings.EqualFold(name, s) {
			return t, ebpf.AttachNone, nil
		}
	}
	known := make([]string, 0, len(typeNames))
	for n := range typeNames {
		known = append(known, n)
	}
	sort.Strings(known)
	return 0, 0, fmt.Errorf("unknown program type %q (use a section name: %s; or a type name such as SkMsg)", s, strings.Join(known, ", "))
}

// AttachProgramType is the program type an attach type needs (the kernel's
// attach_type_to_prog_type), for the attach types of the sockmap
// pipeline; ebpf.UnspecifiedProgram for any other.
func AttachProgramType(a ebpf.AttachType) ebpf.ProgramType {
	switch a {
	case ebpf.AttachSkMsgVerdict:
		return ebpf.SkMsg
	case ebpf.AttachSkSKBStreamParser, ebpf.AttachSkSKBStreamVerdict, ebpf.AttachSkSKBVerdict:
		return ebpf.SkSKB
	case ebpf.AttachCGroupSockOps:
		return ebpf.SockOps
	}
	return ebpf.UnspecifiedProgram
}

// ProgramTypeName is the kernel's lower-case name of a program type, as
// bpftool prints it (sk_msg, sk_skb, sock_ops); cilium/ebpf's name for a
// type outside the sockmap pipeline.
func ProgramTypeName(t ebpf.ProgramType) string {
	switch t {
	case ebpf.SkMsg:
		return "sk_msg"
	case ebpf.SkSKB:
		return "sk_skb"
	case ebpf.SockOps:
		return "sock_ops"
	}
	return t.String()
}
