package loader

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"fmt"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/skmsg/skmsg/internal/kernelbtf"
)

// ctxBTF is testdata/loader/ctx_btf.o: the UAPI context structs compiled by
// clang -g. Only its BTF is used.
//
//go:embed ctx_btf.o
var ctxBTF []byte

var loadCtxBTF = sync.OnceValues(func() (*btf.Spec, error) {
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(ctxBTF))
	if err != nil {
		return nil, fmt.Errorf("embedded context BTF: %w", err)
	}
	return spec, nil
})

// ContextBTF returns the BTF of the context types skmsg emulates
// (__sk_buff, sk_msg_md, bpf_sock_ops, bpf_sock, ...), the target of CO-RE
// relocations.
func ContextBTF() (*btf.Spec, error) { return loadCtxBTF() }

type coreTargetSet []*btf.Spec

// coreTargets are the BTF relocations resolve against: the context types
// first (their IDs are what bpf_core_type_id_kernel yields), then the
// kernel-internal types skmsg backs with memory (struct sock, tcp_sock,
// task_struct, ...; internal/kernelbtf), then the caller's.
func coreTargets(extra []*btf.Spec) (coreTargetSet, error) {
	ctx, err := loadCtxBTF()
	if err != nil {
		return nil, err
	}
	kernel, err := kernelbtf.Spec()
	if err != nil {
		return nil, err
	}
	return append(coreTargetSet{ctx, kernel}, extra...), nil
}

// applyCORE resolves the CO-RE relocations of p's instructions, as
// cilium/ebpf does at program load (linker.go applyRelocations), but
// against skmsg's targets instead of the running kernel's BTF.
func applyCORE(p *ProgramSpec, targets coreTargetSet, localBTF *btf.Spec) error {
	var (
		relos      []*btf.CORERelocation
		idx        []int // position in p.Instructions
		pcs        []int // instruction slot, for messages
		unresolved = map[int]string{}
	)
	iter := p.Instructions.Iterate()
	for iter.Next() {
		if relo := btf.CORERelocationMetadata(iter.Ins); relo != nil {
			relos = append(relos, relo)
			idx = append(idx, iter.Index)
			pcs = append(pcs, int(iter.Offset))
		}
	}
	if len(relos) == 0 {
		return nil
	}

	builder, err := btf.NewBuilder(nil, nil)
	if err != nil {
		return err
	}
	bo := p.Spec.ByteOrder
	if bo == nil {
		bo = binary.LittleEndian
	}
	fixups, err := btf.CORERelocate(relos, targets, bo, builder.Add)
	if err != nil {
		return fmt.Errorf("CO-RE: %w", err)
	}
	var poisoned []int // positions in relos
	for i, fixup := range fixups {
		ins := &p.Instructions[idx[i]]
		before := *ins
		if err := applyFixup(&fixup, ins); err != nil {
			return fmt.Errorf("%s: CO-RE %s: %w", describeInsn(pcs[i], &before), relos[i], err)
		}
		if isPoisoned(ins) {
			// Keep what the instruction was for the messages below.
			poisoned = append(poisoned, i)
			*ins = ins.WithSource(before.Source())
			if sym := before.Symbol(); sym != "" {
				*ins = ins.WithSymbol(sym)
			}
			unresolved[i] = fmt.Sprintf("%s: CO-RE relocation %s (%s): %s cannot be resolved against the types skmsg emulates (program contexts and the kernel structs behind sockets and tasks)",
				describeInsn(pcs[i], &before), relos[i], fixup.String(), describeRelo(relos[i], localBTF))
			continue
		}
		// Done: drop the relocation so that nothing (cilium/ebpf loading
		// Program.Spec into a kernel) applies it a second time.
		*ins = btf.WithCORERelocationMetadata(*ins, nil)
	}
	p.CORERelocations = len(relos)
	if len(poisoned) == 0 {
		return nil
	}

	// A poisoned instruction is fine where the code CO-RE produced cannot
	// reach it (a bpf_core_field_exists() guard that folded to 0), as in
	// the kernel verifier; anywhere else the program cannot run.
	reachable := reachableSlots(p.Instructions)
	for _, i := range poisoned {
		if reachable[pcs[i]] {
			return fmt.Errorf("%s: %w", unresolved[i], ErrNotSupported)
		}
	}
	for _, i := range poisoned {
		ins := &p.Instructions[idx[i]]
		src := ins.Source()
		if ins.OpCode.IsDWordLoad() {
			*ins = asm.LoadImm(asm.R0, 0, asm.DWord)
		} else {
			*ins = asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Ja)}
		}
		*ins = ins.WithSource(src)
		p.DeadCORE = append(p.DeadCORE, DeadCORE{PC: pcs[i], Reason: unresolved[i]})
	}
	return nil
}

func isPoisoned(ins *asm.Instruction) bool {
	if ins.Constant != btf.COREBadRelocationSentinel {
		return false
	}
	return ins.IsBuiltinCall() || (ins.OpCode.IsDWordLoad() && ins.Dst == asm.R10)
}

// applyFixup applies a fixup with cilium/ebpf's COREFixup.Apply, which only
// works when built for Linux; elsewhere it makes the same edit from the
// fixup's description ("kind=local->target" or "kind=poison").
func applyFixup(f *btf.COREFixup, ins *asm.Instruction) error {
	if goruntime.GOOS == "linux" {
		return f.Apply(ins)
	}
	return applyFixupPortable(f.String(), ins)
}

func applyFixupPortable(desc string, ins *asm.Instruction) error {
	_, val, ok := strings.Cut(desc, "=")
	if !ok {
		return fmt.Errorf("unexpected fixup %q", desc)
	}
	if val == "poison" {
		if ins.OpCode.IsDWordLoad() {
			*ins = asm.LoadImm(asm.R10, btf.COREBadRelocationSentinel, asm.DWord)
		} else {
			*ins = asm.BuiltinFunc(btf.COREBadRelocationSentinel).Call()
		}
		return nil
	}
	_, tgt, ok := strings.Cut(val, "->")
	if !ok {
		return fmt.Errorf("unexpected fixup %q", desc)
	}
	target, err := strconv.ParseUint(tgt, 10, 64)
	if err != nil {
		return fmt.Errorf("unexpected fixup %q: %w", desc, err)
	}
	switch class := ins.OpCode.Class(); class {
	case asm.LdXClass, asm.StClass, asm.StXClass:
		if target > 1<<15-1 {
			return fmt.Errorf("offset %d exceeds MaxInt16", target)
		}
		ins.Offset = int16(target)
	case asm.LdClass:
		if !ins.IsConstantLoad(asm.DWord) {
			return fmt.Errorf("not a dword-sized immediate load")
		}
		ins.Constant = int64(target)
	case asm.ALUClass, asm.ALU64Class:
		if ins.OpCode.Source() != asm.ImmSource {
			return fmt.Errorf("invalid source %s", ins.OpCode.Source())
		}
		if target > 1<<31-1 {
			return fmt.Errorf("immediate %d exceeds MaxInt32", target)
		}
		ins.Constant = int64(target)
	default:
		return fmt.Errorf("invalid class %s", class)
	}
	return nil
}

// reloPattern picks kind, local type name and accessor out of
// CORERelocation.String(), e.g.
// `CORERelocation(byte_off, Struct:"sk_msg_md___future"[0:1], local_id=15)`.
var reloPattern = regexp.MustCompile(`^CORERelocation\(([a-z_]+), [A-Za-z]+:"([^"]+)"\[([0-9:]+)\]`)

// describeRelo names what a relocation wants in C terms
// ("field sk_msg_md.tx_queue_hint (local type sk_msg_md___future)"), from
// the object's BTF; it falls back to the type name alone.
func describeRelo(relo *btf.CORERelocation, local *btf.Spec) string {
	m := reloPattern.FindStringSubmatch(relo.String())
	if m == nil {
		return "the relocated type"
	}
	kind, typeName, accessor := m[1], m[2], strings.Split(m[3], ":")
	target := typeName
	if i := strings.Index(target, "___"); i > 0 {
		target = target[:i]
	}
	what := "type " + target
	if strings.HasPrefix(kind, "field") || strings.HasPrefix(kind, "byte") || kind == "signed" || strings.HasPrefix(kind, "lshift") || strings.HasPrefix(kind, "rshift") {
		if path := fieldPath(local, typeName, accessor); path != "" {
			what = "field " + target + path
		}
	} else if strings.HasPrefix(kind, "enumval") {
		what = "enum value of " + target
	}
	if target != typeName {
		what += " (local type " + typeName + ")"
	}
	return what
}

// fieldPath walks a CO-RE accessor ("0:1:2": base index, then member or
// array indices) through the local type and returns ".a.b[2]".
func fieldPath(spec *btf.Spec, typeName string, accessor []string) string {
	if spec == nil || len(accessor) < 2 {
		return ""
	}
	types, err := spec.AnyTypesByName(typeName)
	if err != nil {
		return ""
	}
	var typ btf.Type
	for _, t := range types {
		if t.TypeName() == typeName {
			typ = t
		}
	}
	if typ == nil {
		return ""
	}
	var path strings.Builder
	for _, a := range accessor[1:] {
		idx, err := strconv.Atoi(a)
		if err != nil || idx < 0 {
			return ""
		}
		var members []btf.Member
		switch t := btf.UnderlyingType(typ).(type) {
		case *btf.Struct:
			members = t.Members
		case *btf.Union:
			members = t.Members
		case *btf.Array:
			fmt.Fprintf(&path, "[%d]", idx)
			typ = t.Type
			continue
		default:
			return ""
		}
		if idx >= len(members) {
			return ""
		}
		if members[idx].Name != "" {
			path.WriteString("." + members[idx].Name)
		}
		typ = members[idx].Type
	}
	return path.String()
}
