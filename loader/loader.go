package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// ErrNotSupported is wrapped by every error about something the object needs
// that skmsg does not provide (a program type it cannot tell, an
// unresolvable CO-RE relocation, kfuncs, kconfig externs, ...). It is the
// module's one such value: every package of skmsg that reports something it
// cannot do yet wraps this same error, so errors.Is(err,
// loader.ErrNotSupported) answers for all of them.
var ErrNotSupported = errno.ErrNotSupported

// Object is a parsed BPF object: its programs and the maps they use. It is
// input for the runtime; nothing in it runs.
type Object struct {
	// Programs by function name.
	Programs map[string]*ProgramSpec
	// Maps by name, including global data sections (keyed by section name:
	// ".data", ".bss", ".rodata", ".rodata.foo") and inner map templates
	// only through their outer map's InnerMap.
	Maps map[string]*MapSpec
	// ProgramList and MapList hold the same values in a stable order
	// (programs by section then name, maps by name).
	ProgramList []*ProgramSpec
	MapList     []*MapSpec
	// Variables are the named global variables of the data sections.
	Variables map[string]*Variable
	// BTF of the object, nil if it has none.
	BTF *btf.Spec
	// ByteOrder of the object (little endian for -target bpf on x86/arm64).
	ByteOrder binary.ByteOrder
}

// Option changes how an object is loaded.
type Option func(*config)

type config struct {
	overrides   []typeOverride
	coreTargets []*btf.Spec
}

type typeOverride struct {
	name   string // program name or section name
	typ    ebpf.ProgramType
	attach ebpf.AttachType
	used   bool
}

// WithProgramType sets the program type and expected attach type of the
// program whose function name is name, or of every program in the section
// named name. Program names win over section names. Use it for sections no
// convention names (SEC("my_verdict")) or to say what a legacy "sk_skb2"
// is (SK_SKB with ebpf.AttachSkSKBStreamVerdict). An override that matches
// nothing is an error, so a typo does not go unnoticed.
func WithProgramType(name string, typ ebpf.ProgramType, attach ebpf.AttachType) Option {
	return func(c *config) {
		c.overrides = append(c.overrides, typeOverride{name: name, typ: typ, attach: attach})
	}
}

// WithCORETargets adds BTF specs (e.g. a kernel's vmlinux BTF from
// btf.LoadKernelSpec or btf.LoadSpec) to resolve CO-RE relocations against,
// after the context types skmsg ships.
func WithCORETargets(specs ...*btf.Spec) Option {
	return func(c *config) { c.coreTargets = append(c.coreTargets, specs...) }
}

// Open parses the BPF ELF object at path.
func Open(path string, opts ...Option) (*Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	obj, err := FromReader(f, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return obj, nil
}

// FromReader parses a BPF ELF object.
func FromReader(r io.ReaderAt, opts ...Option) (obj *Object, err error) {
	spec, err := parseSpec(r)
	if err != nil {
		return nil, err
	}
	return FromSpec(spec, opts...)
}

// OpenSpec parses the BPF ELF object at path into cilium/ebpf's
// CollectionSpec, with the checks of Open: a file that is not an ELF
// object says so, malformed input is an error, never a panic.
func OpenSpec(path string) (*ebpf.CollectionSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	spec, err := parseSpec(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

// ErrNotELF is returned for input that does not start with the ELF magic.
var ErrNotELF = errors.New("not an ELF object")

// parseSpec runs cilium/ebpf's ELF reader. Malformed input must come back as
// an error, never as a panic out of a library.
func parseSpec(r io.ReaderAt) (spec *ebpf.CollectionSpec, err error) {
	// cilium/ebpf reports a short text file as EOF; say what it is.
	var magic [4]byte
	if n, _ := r.ReadAt(magic[:], 0); n == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrNotELF)
	} else if n < len(magic) || string(magic[:]) != "\x7fELF" {
		return nil, fmt.Errorf("%w: it starts with %q, not the ELF magic \"\\x7fELF\"", ErrNotELF, magic[:n])
	}
	defer func() {
		if p := recover(); p != nil {
			spec, err = nil, fmt.Errorf("malformed ELF object: parser panicked: %v", p)
		}
	}()
	spec, err = ebpf.LoadCollectionSpecFromReader(r)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("parse ELF: truncated object (%w)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("parse ELF: %w", err)
	}
	return spec, nil
}

// FromSpec builds an Object from a CollectionSpec, such as the one a
// bpf2go-generated loadXxx() function returns. spec is not modified.
func FromSpec(spec *ebpf.CollectionSpec, opts ...Option) (obj *Object, err error) {
	if spec == nil {
		return nil, errors.New("nil CollectionSpec")
	}
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("malformed object: loader panicked: %v", p)
		}
	}()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	spec = spec.Copy()

	obj = &Object{
		Programs:  make(map[string]*ProgramSpec, len(spec.Programs)),
		Maps:      make(map[string]*MapSpec, len(spec.Maps)),
		Variables: make(map[string]*Variable, len(spec.Variables)),
		BTF:       spec.Types,
		ByteOrder: spec.ByteOrder,
	}
	if obj.ByteOrder == nil {
		obj.ByteOrder = binary.LittleEndian
	}

	if err := obj.loadMaps(spec); err != nil {
		return nil, err
	}
	obj.loadVariables(spec)

	targets, err := coreTargets(cfg.coreTargets)
	if err != nil {
		return nil, err
	}

	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		p, err := obj.loadProgram(spec.Programs[name], &cfg, targets)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		obj.Programs[p.Name] = p
		obj.ProgramList = append(obj.ProgramList, p)
	}
	for i := range cfg.overrides {
		if !cfg.overrides[i].used {
			errs = append(errs, fmt.Errorf("program type override %q: no program or section of that name", cfg.overrides[i].name))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, obj.checkContents())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.SliceStable(obj.ProgramList, func(i, j int) bool {
		a, b := obj.ProgramList[i], obj.ProgramList[j]
		if a.Section != b.Section {
			return a.Section < b.Section
		}
		return a.Name < b.Name
	})
	return obj, nil
}

// Program returns the program called name, or an error listing the
// programs there are.
func (o *Object) Program(name string) (*ProgramSpec, error) {
	if p := o.Programs[name]; p != nil {
		return p, nil
	}
	have := make([]string, 0, len(o.ProgramList))
	for _, p := range o.ProgramList {
		have = append(have, p.Name)
	}
	return nil, fmt.Errorf("no program %q in object (have: %s)", name, strings.Join(have, ", "))
}

// isDataSection tells global data sections, which cilium/ebpf turns into
// single-entry array maps named after the section.
func isDataSection(name string) bool {
	return name == ".bss" || strings.HasPrefix(name, ".data") || strings.HasPrefix(name, ".rodata")
}

func isReadOnlySection(name string) bool { return strings.HasPrefix(name, ".rodata") }

// describeInsn names an instruction for error messages: its slot (the pc
// the kernel verifier and the vm use), text and source line when there is
// one.
func describeInsn(pc int, ins *asm.Instruction) string {
	s := fmt.Sprintf("instruction %d (%v)", pc, *ins)
	if src := ins.Source(); src != nil {
		if l, ok := src.(*btf.Line); ok {
			s += fmt.Sprintf(" [%s:%d: %s]", l.FileName(), l.LineNumber(), strings.TrimSpace(l.Line()))
		} else {
			s += fmt.Sprintf(" [%s]", strings.TrimSpace(src.String()))
		}
	}
	return s
}

// checkContents checks that prog arrays and maps of maps initialised in the
// object name programs and maps that exist.
func (o *Object) checkContents() error {
	for _, m := range o.MapList {
		for _, kv := range m.Contents {
			name, ok := kv.Value.(string)
			if !ok {
				continue
			}
			switch m.Type {
			case ebpf.ProgramArray:
				if o.Programs[name] == nil {
					return fmt.Errorf("map %s: initial entry %v names program %q, which the object does not have", m.Name, kv.Key, name)
				}
			case ebpf.ArrayOfMaps, ebpf.HashOfMaps:
				if o.Maps[name] == nil {
					return fmt.Errorf("map %s: initial entry %v names map %q, which the object does not declare", m.Name, kv.Key, name)
				}
			}
		}
	}
	return nil
}
