package loader

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// ProgramSpec is one entry point of the object with everything it calls:
// a specification, not yet prepared to run (runtime.Program is the live one).
type ProgramSpec struct {
	Name    string // function name
	Section string // ELF section, e.g. "sk_msg", "sk_skb/stream_verdict"
	// Type and AttachType (the expected attach type) come from the section
	// name or a WithProgramType override.
	Type       ebpf.ProgramType
	AttachType ebpf.AttachType
	// AttachTo is the part of the section name after the type for types
	// that carry a target ("kprobe/tcp_sendmsg" -> "tcp_sendmsg").
	AttachTo string
	// LegacySection is set when the type was taken from a pre-libbpf-1.0
	// section name by prefix ("sk_msg1", "sk_skb2", "sockops_x").
	LegacySection bool
	// Overridden is set when WithProgramType decided the type.
	Overridden bool
	License    string
	// Instructions: the entry function followed by its subprograms, with
	// CO-RE relocations applied, line info kept (ins.Source()) and
	// references left symbolic (see the package documentation).
	Instructions asm.Instructions
	// Maps are the names of the maps (keys of Object.Maps, global data
	// sections included) the instructions reference, sorted.
	Maps []string
	// Functions are the bpf-to-bpf callees linked into Instructions, in
	// stream order (the entry function not included).
	Functions []string
	// CORERelocations is the number of CO-RE relocations applied.
	CORERelocations int
	// DeadCORE lists instructions whose CO-RE relocation could not be
	// resolved but which no path reaches (an access guarded by a
	// bpf_core_field_exists() that folded to 0). Each was replaced by a
	// no-op of the same width ("goto +0", or "r0 = 0 ll").
	DeadCORE []DeadCORE
	// Unsupported, when set, says why skmsg cannot run this program
	// although the object is fine: a kfunc call, an extern, a CO-RE
	// relocation skmsg's types cannot resolve on a reachable path. It
	// wraps ErrNotSupported. The program is listed all the same (and can
	// be loaded into a kernel); the other programs of the object are not
	// affected.
	Unsupported error
	// Spec is the cilium/ebpf spec this was made from (a private copy, with
	// the same Instructions and the type decided here). CO-RE is already
	// applied and its relocation records removed, so the spec can also be
	// loaded into a kernel with cilium/ebpf.
	Spec *ebpf.ProgramSpec
}

// Context names the context struct the program type receives, for
// messages ("sk_msg_md", "__sk_buff", ...); "" when not known.
func (p *ProgramSpec) Context() string {
	switch p.Type {
	case ebpf.SkMsg:
		return "sk_msg_md"
	case ebpf.SkSKB, ebpf.SocketFilter, ebpf.SchedCLS, ebpf.SchedACT, ebpf.CGroupSKB:
		return "__sk_buff"
	case ebpf.SockOps:
		return "bpf_sock_ops"
	case ebpf.XDP:
		return "xdp_md"
	}
	return ""
}

func (o *Object) loadProgram(ps *ebpf.ProgramSpec, cfg *config, targets coreTargetSet) (*ProgramSpec, error) {
	if ps == nil {
		return nil, fmt.Errorf("nil program spec")
	}
	p := &ProgramSpec{
		Name:         ps.Name,
		Section:      ps.SectionName,
		Type:         ps.Type,
		AttachType:   ps.AttachType,
		AttachTo:     ps.AttachTo,
		License:      ps.License,
		Instructions: ps.Instructions,
		Spec:         ps,
	}
	where := fmt.Sprintf("section %q, program %s", p.Section, p.Name)
	if len(p.Instructions) == 0 {
		return nil, fmt.Errorf("%s: no instructions", where)
	}

	if ov := findOverride(cfg, p); ov != nil {
		p.Type, p.AttachType, p.Overridden = ov.typ, ov.attach, true
	} else if p.Type == ebpf.UnspecifiedProgram {
		return nil, fmt.Errorf("%s: program type unknown: the section name matches no libbpf convention (sk_msg, sk_skb/stream_parser, sk_skb/stream_verdict, sk_skb/verdict, sk_skb, sockops, ...); give it with WithProgramType (skmsg-run: --type %s=TYPE): %w", where, p.Name, ErrNotSupported)
	} else {
		p.LegacySection = isLegacyPrefix(p.Section)
	}
	ps.Type, ps.AttachType = p.Type, p.AttachType

	// Something skmsg cannot emulate in one program fails that program
	// only (Unsupported), as a kfunc the kernel lacks fails only the
	// program calling it; a malformed program fails the object.
	if err := applyCORE(p, targets, o.BTF); err != nil {
		if !errors.Is(err, ErrNotSupported) {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		p.Unsupported = fmt.Errorf("%s: %w", where, err)
	}
	if err := o.checkReferences(p); err != nil {
		if !errors.Is(err, ErrNotSupported) {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if p.Unsupported == nil {
			p.Unsupported = fmt.Errorf("%s: %w", where, err)
		}
	}
	return p, nil
}

func findOverride(cfg *config, p *ProgramSpec) *typeOverride {
	var byName, bySection *typeOverride
	for i := range cfg.overrides {
		ov := &cfg.overrides[i]
		switch {
		case ov.name == p.Name:
			ov.used = true
			if byName == nil {
				byName = ov
			}
		case ov.name == p.Section:
			ov.used = true
			if bySection == nil {
				bySection = ov
			}
		}
	}
	if byName != nil {
		return byName
	}
	return bySection
}

// exactSections are libbpf's section names without a "/" or "+" form that
// matter here; any other name that got a type without a slash was matched
// by prefix, which libbpf >= 1.0 refuses.
var exactSections = map[string]bool{
	"sk_msg": true, "sk_skb": true, "sockops": true, "socket": true, "tc": true,
	"classifier": true, "action": true, "xdp": true, "flow_dissector": true,
	"sk_lookup": true, "sk_reuseport": true, "cgroup_skb/ingress": true,
	"cgroup_skb/egress": true, "cgroup/skb": true, "lwt_in": true, "lwt_out": true,
	"lwt_xmit": true, "lwt_seg6local": true, "netfilter": true, "syscall": true,
}

func isLegacyPrefix(section string) bool {
	s := strings.TrimPrefix(section, "?")
	if strings.Contains(s, "/") || exactSections[s] {
		return false
	}
	for _, base := range []string{"sk_msg", "sk_skb", "sockops", "socket", "xdp", "tc", "classifier", "action"} {
		if strings.HasPrefix(s, base) && s != base {
			return true
		}
	}
	return false
}

// checkReferences walks the instructions: every map reference must name a
// map of the object, every call a function present in the stream, and
// things skmsg has no emulation for are reported.
func (o *Object) checkReferences(p *ProgramSpec) error {
	maps := map[string]bool{}
	symbols := map[string]bool{}
	// The first thing skmsg cannot emulate is reported once the walk is
	// done, so that a malformed reference later on still fails the object.
	var unsupported error
	note := func(err error) {
		if unsupported == nil {
			unsupported = err
		}
	}
	for _, ins := range p.Instructions {
		if sym := ins.Symbol(); sym != "" {
			if sym != p.Name {
				p.Functions = append(p.Functions, sym)
			}
			symbols[sym] = true
		}
	}
	iter := p.Instructions.Iterate()
	for iter.Next() {
		ins := iter.Ins
		ref := ins.Reference()
		switch {
		case ins.OpCode.IsDWordLoad():
			switch ins.Src {
			case asm.PseudoMapFD, asm.PseudoMapValue:
				if ref == "" {
					return fmt.Errorf("%s: map load without a map reference", describeInsn(int(iter.Offset), ins))
				}
				if ref == ".kconfig" || ref == ".ksyms" {
					note(fmt.Errorf("%s: extern variable in %s (LINUX_KERNEL_VERSION, CONFIG_*, __ksym): %w", describeInsn(int(iter.Offset), ins), ref, ErrNotSupported))
					continue
				}
				m := o.Maps[ref]
				if m == nil {
					return fmt.Errorf("%s: references map %q, which the object does not declare", describeInsn(int(iter.Offset), ins), ref)
				}
				if ins.Src == asm.PseudoMapValue {
					off := uint64(ins.Constant) >> 32
					if !m.GlobalData {
						note(fmt.Errorf("%s: direct value access to map %s, which is not a global data section: %w", describeInsn(int(iter.Offset), ins), ref, ErrNotSupported))
						continue
					}
					if off > uint64(m.ValueSize) {
						return fmt.Errorf("%s: offset %d past the end of %s (%d bytes)", describeInsn(int(iter.Offset), ins), off, ref, m.ValueSize)
					}
				}
				maps[ref] = true
			case asm.PseudoFunc:
				if !symbols[ref] {
					return fmt.Errorf("%s: function pointer to %q, which is not in the program", describeInsn(int(iter.Offset), ins), ref)
				}
			case asm.R0:
				// A plain 64-bit constant.
			default:
				// BPF_PSEUDO_BTF_ID (3), BPF_PSEUDO_MAP_IDX (5), ...
				note(fmt.Errorf("%s: LD_IMM64 with pseudo source %d: %w", describeInsn(int(iter.Offset), ins), uint8(ins.Src), ErrNotSupported))
				continue
			}
		case ins.IsKfuncCall():
			note(fmt.Errorf("%s: kfunc call %s: %w", describeInsn(int(iter.Offset), ins), ref, ErrNotSupported))
			continue
		case ins.IsFunctionCall():
			if ref == "" || !symbols[ref] {
				note(fmt.Errorf("%s: call to %q, which is not defined in the object (extern functions are %w)", describeInsn(int(iter.Offset), ins), ref, ErrNotSupported))
				continue
			}
		}
	}
	p.Maps = make([]string, 0, len(maps))
	for m := range maps {
		p.Maps = append(p.Maps, m)
	}
	sort.Strings(p.Maps)
	return unsupported
}

// DeadCORE is an unresolvable CO-RE relocation in dead code.
type DeadCORE struct {
	PC     int    // instruction slot
	Reason string // what could not be resolved, with the source line
}
