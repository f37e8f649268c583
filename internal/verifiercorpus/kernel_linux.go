//go:build linux

package verifiercorpus

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/skmsg/skmsg/loader"
)

// Kernel loads programs into the running kernel to ask its verifier.
type Kernel struct{}

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
func NewKernel() *Kernel { return &Kernel{} }

// Close releases nothing: every load creates and closes its own maps.
func (k *Kernel) Close() error { return nil }

// ProgramMaps creates the kernel maps program p of obj references, fresh
// for each load: a prog array belongs to the program type that first
// used it, so sharing maps between loads would make a verdict depend on
// the order of the loads.
func ProgramMaps(obj *loader.Object, p *loader.Program) (map[string]*ebpf.Map, error) {
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
	maps, err := ProgramMaps(c.Obj, c.Prog)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Key(), err)
	}
	defer CloseMaps(maps)
	l, err := LoadInsns(c.Prog.Spec, c.Prog.Instructions, maps, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Key(), err)
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
