package runtime

import (
	"errors"
	"fmt"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/internal/helpers"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/runtime/bpf"
	"github.com/skmsg/skmsg/verifier"
	"github.com/skmsg/skmsg/vm"
)

// Collection is a loaded object: its maps created, its programs prepared.
type Collection struct {
	rt *Runtime
	// Programs by function name (only those that prepared).
	Programs map[string]*Program
	// Maps by name, global data sections included (".data", ".bss",
	// ".rodata"). Sockmaps and sockhashes are *SockMap.
	Maps map[string]bpf.Map
	// Rejected holds the programs the verifier would refuse, with why, and
	// those of a type skmsg cannot run (their error wraps
	// loader.ErrNotSupported).
	Rejected map[string]error

	space   *vm.Space
	pool    machinePool
	globals map[string]uint64 // base address of global data regions
}

// SockMap returns the sockmap or sockhash named name.
func (c *Collection) SockMap(name string) (*SockMap, bool) {
	sm, ok := c.Maps[name].(*SockMap)
	return sm, ok
}

// ErrProgramType is wrapped by the rejection of a program of a type skmsg
// does not run (only sk_msg, sk_skb and sockops programs are prepared). It
// wraps loader.ErrNotSupported.
var ErrProgramType = fmt.Errorf("skmsg runs sk_msg, sk_skb and sockops programs only: %w", loader.ErrNotSupported)

// progTypeInfo tells Load how to prepare programs of a type: the helpers
// they may call and the context access rules.
type progTypeInfo struct {
	Helpers      func(rt *Runtime) vm.Helpers
	CheckContext func(p *loader.ProgramSpec) func(pc int, off int32, size int, write, signExtend bool) error
}

// progTypes are the program types the runtime runs: the sockmap
// pipeline's. Helpers and context rules of each live in its own files
// (ctx_msg.go, ctx_skb.go, ctx_sockops.go and the helpers_*.go beside them).
var progTypes = map[ebpf.ProgramType]progTypeInfo{
	ebpf.SkMsg: {
		Helpers: func(rt *Runtime) vm.Helpers { return mergeHelpers(rt.baseHelpers(), skMsgHelpers(rt)) },
		CheckContext: func(*loader.ProgramSpec) func(int, int32, int, bool, bool) error {
			return checkSkMsgAccess
		},
	},
	ebpf.SkSKB: {
		Helpers: func(rt *Runtime) vm.Helpers { return mergeHelpers(rt.baseHelpers(), skSkbHelpers(rt)) },
		CheckContext: func(*loader.ProgramSpec) func(int, int32, int, bool, bool) error {
			return checkSkSkbAccess
		},
	},
	ebpf.SockOps: {
		Helpers: func(rt *Runtime) vm.Helpers { return mergeHelpers(rt.baseHelpers(), sockOpsHelpers(rt)) },
		CheckContext: func(*loader.ProgramSpec) func(int, int32, int, bool, bool) error {
			return checkSockOpsAccess
		},
	},
}

// baseHelpers are the generic helpers (map ops, ktime, prandom, tail
// calls, ...) shared by every program type.
func (rt *Runtime) baseHelpers() vm.Helpers { return rt.base }

func mergeHelpers(sets ...vm.Helpers) vm.Helpers {
	out := vm.Helpers{}
	for _, s := range sets {
		for id, h := range s {
			out[id] = h
		}
	}
	return out
}

// mapSpec converts the loader's description to a bpf.Spec.
func (rt *Runtime) mapSpec(ms *loader.MapSpec) bpf.Spec {
	s := bpf.Spec{
		Name: ms.Name, Type: ms.Type, KeySize: ms.KeySize, ValueSize: ms.ValueSize,
		MaxEntries: ms.MaxEntries, Flags: ms.Flags,
	}
	if ms.OnePerCPU && s.MaxEntries == 0 {
		s.MaxEntries = uint32(rt.NumCPU())
	}
	if ms.GlobalData {
		s.Contents = ms.Data()
		s.Freeze = ms.ReadOnly
	}
	if ms.InnerMap != nil {
		inner := rt.mapSpec(ms.InnerMap)
		s.InnerMap = &inner
	}
	return s
}

// CreateMap creates a map from spec: a *SockMap for sockmaps and
// sockhashes, a runtime/bpf map otherwise, registered for programs.
func (rt *Runtime) CreateMap(spec bpf.Spec) (bpf.Map, error) {
	var m bpf.Map
	switch spec.Type {
	case ebpf.SockMap, ebpf.SockHash:
		sm, err := newSockMap(rt, spec)
		if err != nil {
			return nil, err
		}
		m = sm
	default:
		mm, err := bpf.New(spec, bpf.Options{NumCPU: rt.NumCPU()})
		if err != nil {
			return nil, err
		}
		m = mm
	}
	if _, err := rt.registry.Add(m); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadOptions change how LoadWithOptions treats an object; the zero value
// is what Load does.
type LoadOptions struct {
	// Maps replaces the object's maps of these names with existing maps
	// (shared maps, as pinning by name would).
	Maps map[string]bpf.Map
}

// Load creates obj's maps and prepares its sk_msg, sk_skb and sockops
// programs on the interpreter. A program the verifier would refuse (a
// helper its type may not call, an invalid context access, ...) is listed
// in Collection.Rejected with the reason, as is a program of another type
// (an error wrapping loader.ErrNotSupported); Load fails only for maps it
// cannot create.
func (rt *Runtime) Load(obj *loader.Object) (*Collection, error) {
	return rt.LoadWithOptions(obj, LoadOptions{})
}

// LoadWithOptions is Load with options.
func (rt *Runtime) LoadWithOptions(obj *loader.Object, lo LoadOptions) (*Collection, error) {
	c := &Collection{
		rt: rt, Programs: map[string]*Program{}, Maps: map[string]bpf.Map{},
		Rejected: map[string]error{}, space: vm.NewSpace(), globals: map[string]uint64{},
	}
	c.pool.space = c.space
	c.pool.setup = newRunState(c)
	for _, ms := range obj.MapList {
		if shared, ok := lo.Maps[ms.Name]; ok && !ms.GlobalData {
			if _, err := rt.registry.Add(shared); err != nil {
				return nil, err
			}
			c.Maps[ms.Name] = shared
			continue
		}
		m, err := rt.CreateMap(rt.mapSpec(ms))
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		c.Maps[ms.Name] = m
		if ms.GlobalData {
			r, err := bpf.ValueRegion(m)
			if err != nil {
				return nil, fmt.Errorf("load: %w", err)
			}
			c.globals[ms.Name] = c.space.AddGlobal(r)
		}
	}
	names := make([]string, 0, len(obj.Programs))
	for n := range obj.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		lp := obj.Programs[name]
		if lp.Unsupported != nil {
			c.Rejected[name] = lp.Unsupported
			continue
		}
		p, err := c.prepare(obj, lp)
		if err != nil {
			c.Rejected[name] = err
			continue
		}
		c.Programs[name] = p
	}
	// Initial contents of program arrays and maps of bpf.
	for _, ms := range obj.MapList {
		if ms.GlobalData {
			continue
		}
		for _, kv := range ms.Contents {
			name, ok := kv.Value.(string)
			if !ok {
				continue
			}
			m := c.Maps[ms.Name]
			if p, ok := c.Programs[name]; ok {
				if err := m.Update(kv.Key, p.VM, bpf.UpdateAny); err != nil {
					return nil, fmt.Errorf("load: map %s: %w", ms.Name, err)
				}
			} else if inner, ok := c.Maps[name]; ok {
				if err := m.Update(kv.Key, inner, bpf.UpdateAny); err != nil {
					return nil, fmt.Errorf("load: map %s: %w", ms.Name, err)
				}
			}
		}
	}
	return c, nil
}

func (c *Collection) prepare(obj *loader.Object, lp *loader.ProgramSpec) (*Program, error) {
	info, ok := progTypes[lp.Type]
	if !ok {
		return nil, fmt.Errorf("program %s: type %s: %w", lp.Name, lp.Type, ErrProgramType)
	}
	rt := c.rt
	if !rt.opts.NoVerify {
		// The kernel's gate: what its verifier refuses does not load.
		res, err := verifier.Verify(verifier.FromLoader(obj, lp), verifier.Options{})
		if err != nil && !errors.Is(err, verifier.ErrUnsupportedType) {
			return nil, fmt.Errorf("program %s: %w", lp.Name, err)
		}
		if err == nil && !res.Accepted {
			ve := res.Err().(*verifier.Error)
			ve.Program = lp.Name
			return nil, ve
		}
	}
	hook, _ := helpers.HookOf(lp.Type, lp.AttachType)
	impl := mergeHelpers(info.Helpers(rt), currentHelpers(rt), sockHelpers(rt))
	// The program may call what the kernel allows its type and skmsg
	// implements (the kernel's table is internal/helpers).
	allowed := vm.Helpers{}
	for id, h := range impl {
		if helpers.Allowed(hook, id) {
			allowed[id] = h
		}
	}
	opts := vm.Options{
		Helpers: allowed,
		Budget:  rt.opts.Budget,
		ResolveImm64: func(pc int, ins asm.Instruction) (uint64, error) {
			ref := ins.Reference()
			m, ok := c.Maps[ref]
			if !ok {
				return 0, fmt.Errorf("reference to unknown map %q", ref)
			}
			switch ins.Src {
			case asm.PseudoMapFD:
				h, ok := rt.registry.Handle(m)
				if !ok {
					return 0, fmt.Errorf("map %s is not registered", ref)
				}
				return h, nil
			case asm.PseudoMapValue:
				base, ok := c.globals[ref]
				if !ok {
					r, err := bpf.ValueRegion(m)
					if err != nil {
						return 0, err
					}
					base = c.space.AddGlobal(r)
					c.globals[ref] = base
				}
				return base + uint64(ins.Constant)>>32, nil
			}
			return 0, fmt.Errorf("unsupported LD_IMM64 form (src %d)", ins.Src)
		},
	}
	if info.CheckContext != nil {
		opts.CheckContext = info.CheckContext(lp)
	}
	// Refuse helpers the type may not call the way the verifier words it,
	// and say which allowed helpers skmsg cannot run.
	for i, ins := range lp.Instructions {
		if !ins.IsBuiltinCall() {
			continue
		}
		fn := asm.BuiltinFunc(ins.Constant)
		if _, ok := allowed[fn]; ok {
			continue
		}
		pc := slotOf(lp.Instructions, i)
		hp, known := helpers.Kernel().ByID[fn]
		switch {
		// The verifier refuses these with EINVAL.
		case !known:
			return nil, fmt.Errorf("%w: %w", errno.EINVAL, &vm.ProgramError{Program: lp.Name, PC: pc, Reason: fmt.Sprintf("invalid func unknown#%d", int32(fn))})
		case !hp.AllowedIn(hook):
			return nil, fmt.Errorf("%w: %w", errno.EINVAL, &vm.ProgramError{Program: lp.Name, PC: pc,
				Reason: fmt.Sprintf("program of this type cannot use helper bpf_%s#%d (%s programs may not call it)", hp.Name, int32(fn), loader.ProgramTypeName(lp.Type))})
		case hp.Sleepable:
			return nil, fmt.Errorf("%w: %w", errno.EINVAL, &vm.ProgramError{Program: lp.Name, PC: pc,
				Reason: fmt.Sprintf("helper call might sleep in a non-sleepable prog: bpf_%s#%d", hp.Name, int32(fn))})
		}
		why := unsupportedHelpers[fn]
		if why == "" {
			why = "not implemented"
		}
		return nil, fmt.Errorf("program %s: pc %d: helper bpf_%s#%d, which the kernel allows %s programs, cannot run on skmsg: %s: %w",
			lp.Name, pc, hp.Name, int32(fn), lp.Type, why, loader.ErrNotSupported)
	}
	vp, err := vm.Prepare(c.space, lp.Name, lp.Instructions, opts)
	if err != nil {
		var pe *vm.ProgramError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("program %s: %w", lp.Name, err)
	}
	p := &Program{Name: lp.Name, Section: lp.Section, Type: lp.Type, VM: vp, coll: c, changesPktData: changesPktData(lp.Instructions)}
	switch lp.AttachType {
	case ebpf.AttachSkMsgVerdict:
		p.ExpectedAttach = ebpf.AttachSkMsgVerdict
	case ebpf.AttachSkSKBStreamParser:
		p.ExpectedAttach = ebpf.AttachSkSKBStreamParser
	case ebpf.AttachSkSKBStreamVerdict:
		p.ExpectedAttach = ebpf.AttachSkSKBStreamVerdict
	case ebpf.AttachSkSKBVerdict:
		p.ExpectedAttach = ebpf.AttachSkSKBVerdict
	case ebpf.AttachCGroupSockOps:
		p.ExpectedAttach = ebpf.AttachCGroupSockOps
	}
	return p, nil
}

// helperName is the kernel's name of a helper without the bpf_ prefix
// (asm.FnGetSocketCookie -> "get_socket_cookie").
func helperName(fn asm.BuiltinFunc) string { return helpers.Name(fn) }

// slotOf is the instruction slot index of instruction i (LD_IMM64 takes
// two slots).
func slotOf(insns asm.Instructions, i int) int {
	slot := 0
	for j := 0; j < i; j++ {
		slot += int(insns[j].Size() / asm.InstructionSize)
	}
	return slot
}
