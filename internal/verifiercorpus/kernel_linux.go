//go:build linux

package verifiercorpus

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/skmsg/skmsg/loader"
)

// Kernel loads programs into the running kernel to ask its verifier. It
// keeps the maps of each object for the next program of the object,
// except prog arrays (see ProgramMaps); Close releases them.
type Kernel struct {
	mu   sync.Mutex
	maps map[*loader.Object]map[string]*ebpf.Map
}

// KernelAvailable reports why programs cannot be loaded into this kernel
// (no BPF permission, no BPF syscall), nil when they can. It loads a
// two-instruction sk_msg program to find out.
func KernelAvailable() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("lift the memlock limit for BPF: %w", err)
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SkMsg, AttachType: ebpf.AttachSkMsgVerdict, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()},
	})
	if err != nil {
		return fmt.Errorf("load a trivial sk_msg program: %w", err)
	}
	return p.Close()
}

// NewKernel returns a Kernel; KernelAvailable says whether it can work.
func NewKernel() *Kernel { return &Kernel{maps: map[*loader.Object]map[string]*ebpf.Map{}} }

// Close releases the maps kept for the objects.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, ms := range k.maps {
		CloseMaps(ms)
	}
	k.maps = map[*loader.Object]map[string]*ebpf.Map{}
	return nil
}

// Maps returns the kernel maps program p of obj references: the
// object's kept maps, and fresh prog arrays. A prog array belongs to the
// program type that first used it, so sharing one between loads would
// make a verdict depend on the order of the loads. The returned release
// closes the fresh maps.
func (k *Kernel) Maps(obj *loader.Object, p *loader.ProgramSpec) (map[string]*ebpf.Map, func(), error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	kept, ok := k.maps[obj]
	if !ok {
		kept = map[string]*ebpf.Map{}
		k.maps[obj] = kept
	}
	out := map[string]*ebpf.Map{}
	fresh := map[string]*ebpf.Map{}
	release := func() { CloseMaps(fresh) }
	for _, name := range p.Maps {
		if m, ok := kept[name]; ok {
			out[name] = m
			continue
		}
		ms, ok := obj.Maps[name]
		if !ok {
			release()
			return nil, nil, fmt.Errorf("program %s references map %q, which the object does not declare", p.Name, name)
		}
		made, err := CreateMaps([]*loader.MapSpec{ms})
		if err != nil {
			release()
			return nil, nil, err
		}
		out[name] = made[name]
		if ms.Type == ebpf.ProgramArray {
			fresh[name] = made[name]
		} else {
			kept[name] = made[name]
		}
	}
	return out, release, nil
}

// ProgramMaps creates the kernel maps program p of obj references, all
// fresh; CloseMaps releases them.
func ProgramMaps(obj *loader.Object, p *loader.ProgramSpec) (map[string]*ebpf.Map, error) {
	var specs []*loader.MapSpec
	for _, name := range p.Maps {
		ms, ok := obj.Maps[name]
		if !ok {
			return nil, fmt.Errorf("program %s references map %q, which the object does not declare", p.Name, name)
		}
		specs = append(specs, ms)
	}
	return CreateMaps(specs)
}

// CloseMaps closes maps made by CreateMaps or ProgramMaps.
func CloseMaps(maps map[string]*ebpf.Map) {
	for _, m := range maps {
		m.Close()
	}
}

// CreateMaps creates kernel maps from loader map specs, by name. Prog
// arrays and maps of maps start empty: the corpus probes the verifier,
// which does not look at their contents.
func CreateMaps(specs []*loader.MapSpec) (map[string]*ebpf.Map, error) {
	out := map[string]*ebpf.Map{}
	for _, ms := range specs {
		spec := ms.Spec.Copy()
		if spec.Type == ebpf.ProgramArray || spec.Type == ebpf.ArrayOfMaps || spec.Type == ebpf.HashOfMaps {
			spec.Contents = nil
		}
		m, err := ebpf.NewMap(spec)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("create map %s (%s): %w", ms.Name, ms.Type, err)
		}
		out[ms.Name] = m
	}
	return out, nil
}

// Load is one kernel load of a program.
type Load struct {
	Verdict Verdict
	// Log is the whole verifier log of a refused load (level 1).
	Log []string
	// Took is the time BPF_PROG_LOAD took (including the retry with a
	// log that cilium/ebpf makes after a failure).
	Took time.Duration
}

// Verify loads program c into the kernel and returns the kernel's verdict.
// An error means the load could not be attempted (a map could not be
// created), not that the kernel refused the program.
func (k *Kernel) Verify(c Case) (*Load, error) {
	maps, release, err := k.Maps(c.Obj, c.Prog)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Key(), err)
	}
	defer release()
	l, err := LoadInsns(c.Prog.Spec, c.Prog.Instructions, maps, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Key(), err)
	}
	l.Verdict.Object, l.Verdict.Program, l.Verdict.Section = c.Object, c.Prog.Name, c.Prog.Section
	return l, nil
}

// Check is Verify for comparisons with a known verdict: it loads the
// program once with no log, and only when the outcome (accepted, errno)
// differs from known loads it again for the reason. A program that runs
// into the complexity limit writes a 70 MB level-1 log, and cilium/ebpf
// verifies it three times to fetch that log (no log, a short buffer, the
// right buffer): Check spares that when the kernel agrees with known.
func (k *Kernel) Check(c Case, known *Verdict) (*Load, error) {
	maps, release, err := k.Maps(c.Obj, c.Prog)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Key(), err)
	}
	l, err := LoadInsns(c.Prog.Spec, c.Prog.Instructions, maps, true)
	release()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Key(), err)
	}
	if known == nil || !l.Verdict.Same(*known) {
		return k.Verify(c)
	}
	if !l.Verdict.Accepted {
		l.Verdict.Reason, l.Verdict.Insn = known.Reason, known.Insn
	}
	l.Verdict.Object, l.Verdict.Program, l.Verdict.Section = c.Object, c.Prog.Name, c.Prog.Section
	return l, nil
}

// LoadInsns loads insns as a program of spec's type, expected attach type
// and license, with map references resolved from maps. quiet asks for no
// log at all (for timing): the verdict then has no reason.
func LoadInsns(spec *ebpf.ProgramSpec, insns asm.Instructions, maps map[string]*ebpf.Map, quiet bool) (*Load, error) {
	ps := spec.Copy()
	ps.Instructions = make(asm.Instructions, len(insns))
	copy(ps.Instructions, insns)
	for i := range ps.Instructions {
		ins := &ps.Instructions[i]
		if !ins.IsLoadFromMap() || ins.Reference() == "" {
			continue
		}
		m, ok := maps[ins.Reference()]
		if !ok {
			return nil, fmt.Errorf("instruction %d references map %q, which the object does not declare", i, ins.Reference())
		}
		if err := ins.AssociateMap(m); err != nil {
			return nil, fmt.Errorf("instruction %d: associate map %q: %w", i, ins.Reference(), err)
		}
	}
	start := time.Now()
	prog, err := ebpf.NewProgramWithOptions(ps, ebpf.ProgramOptions{LogDisabled: quiet, LogSizeStart: 1 << 16})
	took := time.Since(start)
	l := &Load{Took: took, Verdict: Verdict{Insn: -1}}
	if err == nil {
		l.Verdict.Accepted = true
		return l, prog.Close()
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return nil, fmt.Errorf("load program %s: %w", ps.Name, err)
	}
	l.Verdict.Errno = unix.ErrnoName(errno)
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		l.Log = ve.Log
		l.Verdict.Reason = Reason(ve.Log)
		l.Verdict.Insn = FailingInsn(ve.Log)
	}
	if l.Verdict.Reason == "" {
		l.Verdict.Reason = err.Error()
	}
	return l, nil
}
