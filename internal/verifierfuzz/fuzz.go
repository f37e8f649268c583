// Package verifierfuzz is the differential fuzzer of skmsg's verifier: it
// mutates the corpus programs (package verifiercorpus) and generates
// programs of the five sockmap attach kinds, verifies each with the
// running kernel and with skmsg's verifier, counts the agreements and
// saves the programs they disagree on. It is a package of its own
// because it imports package verifier, whose in-package tests import
// verifiercorpus.
package verifierfuzz

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/internal/verifiercorpus"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/verifier"
)

// FuzzStats counts a differential fuzzing run.
type FuzzStats struct {
	Tried        int `json:"tried"`
	BothAccepted int `json:"both_accepted"`
	// BothRefused counts programs both refused with the same errno,
	// ErrnoDiffers those both refused with different errnos.
	BothRefused  int `json:"both_refused"`
	ErrnoDiffers int `json:"both_refused_errno_differs"`
	// SkmsgOnly counts programs skmsg accepted and the kernel refused:
	// the dangerous kind. KernelOnly the reverse.
	SkmsgOnly  int `json:"skmsg_only_accepted"`
	KernelOnly int `json:"kernel_only_accepted"`
	// SkmsgFailed counts programs skmsg's verifier panicked on, returned
	// an error for, or did not finish within the deadline.
	SkmsgFailed int `json:"skmsg_failed"`
	// KernelSkipped counts programs the kernel load could not be tried
	// for (a map could not be made).
	KernelSkipped int `json:"kernel_skipped"`
	// LastSkip is why the last skipped load could not be tried.
	LastSkip  string `json:"last_skip,omitempty"`
	Mutants   int    `json:"mutants"`
	Generated int    `json:"generated"`
	// Classes is the number of distinct disagreements (by class, errnos
	// and reasons with the numbers taken out), Saved the programs saved.
	Classes int           `json:"disagreement_classes"`
	Saved   int           `json:"saved"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Add adds o's counts to s.
func (s *FuzzStats) Add(o FuzzStats) {
	s.Tried += o.Tried
	s.BothAccepted += o.BothAccepted
	s.BothRefused += o.BothRefused
	s.ErrnoDiffers += o.ErrnoDiffers
	s.SkmsgOnly += o.SkmsgOnly
	s.KernelOnly += o.KernelOnly
	s.SkmsgFailed += o.SkmsgFailed
	s.KernelSkipped += o.KernelSkipped
	s.Mutants += o.Mutants
	s.Generated += o.Generated
	s.Classes += o.Classes
	s.Saved += o.Saved
	s.Elapsed += o.Elapsed
}

func (s FuzzStats) String() string {
	return fmt.Sprintf("%d tried in %s (%d mutants, %d generated): %d both accepted, %d both refused, %d refused with different errnos, %d skmsg-only accepted, %d kernel-only accepted, %d skmsg failures, %d kernel skipped; %d disagreement classes, %d saved",
		s.Tried, s.Elapsed.Round(time.Second), s.Mutants, s.Generated, s.BothAccepted, s.BothRefused, s.ErrnoDiffers, s.SkmsgOnly, s.KernelOnly, s.SkmsgFailed, s.KernelSkipped, s.Classes, s.Saved)
}

// FuzzConfig configures Fuzz.
type FuzzConfig struct {
	Duration time.Duration
	Seed     uint64
	// OutDir receives the disagreeing programs (JSON, see verifiercorpus.Saved) and
	// stats.json; "" saves nothing.
	OutDir string
	// PerClass is how many programs of one disagreement class are saved
	// (default 3).
	PerClass int
	// SkmsgDeadline bounds one skmsg verification (default 1m); a
	// verification past it counts as a failure and keeps running in the
	// background. After MaxDeadlineMisses of them (default 5, negative:
	// never) Fuzz stops.
	SkmsgDeadline     time.Duration
	MaxDeadlineMisses int
	// Progress, when set, gets the running counts every ProgressEvery.
	Progress      func(FuzzStats)
	ProgressEvery time.Duration
}

// job is one program to verify on both sides.
type job struct {
	origin     string
	kind       verifiercorpus.Kind
	license    string
	spec       *ebpf.ProgramSpec
	insns      asm.Instructions
	kernelMaps func() (map[string]*ebpf.Map, func(), error)
	vmaps      map[string]*verifier.Map
	descs      []verifiercorpus.MapDesc
}

// Fuzz mutates corpus programs and generates programs of the five kinds
// for cfg.Duration, verifies each on the kernel and with skmsg's
// verifier, and counts the agreements. It needs BPF permission.
func Fuzz(ctx context.Context, cases []verifiercorpus.Case, cfg FuzzConfig) (FuzzStats, error) {
	if cfg.PerClass == 0 {
		cfg.PerClass = 3
	}
	if cfg.SkmsgDeadline == 0 {
		cfg.SkmsgDeadline = time.Minute
	}
	if cfg.MaxDeadlineMisses == 0 {
		cfg.MaxDeadlineMisses = 5
	}
	if err := verifiercorpus.KernelAvailable(); err != nil {
		return FuzzStats{}, fmt.Errorf("differential fuzzing needs the kernel: %w", err)
	}
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return FuzzStats{}, fmt.Errorf("make the fuzzer's output directory: %w", err)
		}
	}
	k := verifiercorpus.NewKernel()
	defer k.Close()
	genMaps, err := verifiercorpus.CreateMaps(genMapSpecs())
	if err != nil {
		return FuzzStats{}, fmt.Errorf("create the generated programs' maps: %w", err)
	}
	defer verifiercorpus.CloseMaps(genMaps)
	genVMaps := map[string]*verifier.Map{}
	for _, d := range verifiercorpus.GenMaps {
		genVMaps[d.Name] = &verifier.Map{Name: d.Name, Type: d.Type, KeySize: d.KeySize, ValueSize: d.ValueSize, MaxEntries: d.MaxEntries, Flags: d.Flags}
	}

	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	var st FuzzStats
	classes := map[string]int{}
	start := time.Now()
	lastProgress := start
	hangs := 0
	for time.Since(start) < cfg.Duration && ctx.Err() == nil {
		var j job
		if len(cases) > 0 && r.IntN(10) < 6 {
			c := cases[r.IntN(len(cases))]
			j = mutantJob(k, r, c)
			st.Mutants++
		} else {
			kind := verifiercorpus.Kinds[r.IntN(len(verifiercorpus.Kinds))]
			j = job{
				origin: "generated", kind: kind, license: "GPL",
				spec:  &ebpf.ProgramSpec{Name: "fuzz", Type: kind.Type, AttachType: kind.AttachType, License: "GPL"},
				insns: verifiercorpus.Generate(r, kind),
				kernelMaps: func() (map[string]*ebpf.Map, func(), error) {
					return genMaps, func() {}, nil
				},
				vmaps: genVMaps, descs: verifiercorpus.GenMaps,
			}
			st.Generated++
		}
		st.Tried++

		kl, err := j.kernel(true)
		if err != nil {
			st.KernelSkipped++
			st.LastSkip = err.Error()
			continue
		}
		sres, serr := skmsgVerify(j, cfg.SkmsgDeadline)
		kv := kl.Verdict
		var sv verifiercorpus.Verdict
		class := ""
		switch {
		case serr != nil:
			st.SkmsgFailed++
			class = "skmsg-failed"
			sv = verifiercorpus.Verdict{Errno: "FAILED", Reason: serr.Error(), Insn: -1}
			if strings.Contains(serr.Error(), "deadline") {
				hangs++
			}
		default:
			sv = verifiercorpus.Verdict{Accepted: sres.Accepted, Errno: verifier.ErrnoName(sres.Errno), Reason: sres.Reason, Insn: sres.Insn}
			switch {
			case kv.Accepted && sv.Accepted:
				st.BothAccepted++
			case !kv.Accepted && !sv.Accepted && kv.Errno == sv.Errno:
				st.BothRefused++
			case !kv.Accepted && !sv.Accepted:
				st.ErrnoDiffers++
				class = "errno-differs"
			case sv.Accepted:
				st.SkmsgOnly++
				class = "skmsg-only-accepted"
			default:
				st.KernelOnly++
				class = "kernel-only-accepted"
			}
		}
		var full *verifiercorpus.Load
		if class != "" {
			// the reason needs the log; a complexity-limit refusal's
			// log is tens of megabytes and says only that
			full = kl
			if !kv.Accepted && kv.Errno != "E2BIG" {
				if l, err := j.kernel(false); err == nil {
					full = l
					kv = l.Verdict
				}
			}
		}
		if class != "" && cfg.OutDir != "" {
			key := class + "|" + kv.Errno + "|" + normalizeReason(kv.Reason) + "|" + sv.Errno + "|" + normalizeReason(sv.Reason)
			if classes[key] == 0 {
				st.Classes++
			}
			if classes[key] < cfg.PerClass {
				classes[key]++
				if err := j.save(cfg.OutDir, st.Tried, class, full, sv, sres); err != nil {
					return st, err
				}
				st.Saved++
			}
		}
		if cfg.MaxDeadlineMisses > 0 && hangs >= cfg.MaxDeadlineMisses {
			return st, fmt.Errorf("skmsg's verifier missed its %s deadline %d times: stopping (the programs are in %s)", cfg.SkmsgDeadline, hangs, cfg.OutDir)
		}
		if cfg.Progress != nil && time.Since(lastProgress) >= cfg.ProgressEvery {
			lastProgress = time.Now()
			st.Elapsed = time.Since(start)
			cfg.Progress(st)
		}
	}
	st.Elapsed = time.Since(start)
	if cfg.OutDir != "" {
		b, _ := json.MarshalIndent(st, "", "  ")
		if err := os.WriteFile(filepath.Join(cfg.OutDir, "stats.json"), append(b, '\n'), 0o644); err != nil {
			return st, fmt.Errorf("write fuzz stats: %w", err)
		}
	}
	return st, nil
}

func genMapSpecs() []*loader.MapSpec {
	var out []*loader.MapSpec
	for _, d := range verifiercorpus.GenMaps {
		out = append(out, &loader.MapSpec{Name: d.Name, Type: d.Type, KeySize: d.KeySize, ValueSize: d.ValueSize, MaxEntries: d.MaxEntries, Flags: d.Flags,
			Spec: &ebpf.MapSpec{Name: d.Name, Type: d.Type, KeySize: d.KeySize, ValueSize: d.ValueSize, MaxEntries: d.MaxEntries, Flags: d.Flags}})
	}
	return out
}

func mutantJob(k *verifiercorpus.Kernel, r *rand.Rand, c verifiercorpus.Case) job {
	insns := verifiercorpus.Mutate(r, c.Prog.Instructions, c.Prog.Maps)
	vp := verifier.FromLoader(c.Obj, c.Prog)
	var descs []verifiercorpus.MapDesc
	for _, name := range c.Prog.Maps {
		if ms, ok := c.Obj.Maps[name]; ok {
			descs = append(descs, verifiercorpus.MapDesc{Name: name, Type: ms.Type, KeySize: ms.KeySize, ValueSize: ms.ValueSize, MaxEntries: ms.MaxEntries, Flags: ms.Flags})
		}
	}
	kind := verifiercorpus.Kind{Name: c.Prog.Section, Type: c.Prog.Type, AttachType: c.Prog.AttachType}
	return job{
		origin: "mutant of " + c.Key(), kind: kind, license: c.Prog.License, spec: c.Prog.Spec, insns: insns,
		kernelMaps: func() (map[string]*ebpf.Map, func(), error) { return k.Maps(c.Obj, c.Prog) },
		vmaps:      vp.Maps, descs: descs,
	}
}

func (j job) kernel(quiet bool) (*verifiercorpus.Load, error) {
	maps, release, err := j.kernelMaps()
	if err != nil {
		return nil, err
	}
	defer release()
	return verifiercorpus.LoadInsns(j.spec, j.insns, maps, quiet)
}

// skmsgVerify runs skmsg's verifier on the job, turning a panic into an
// error and giving up after deadline (the goroutine is left behind: a
// hang is a finding, and the run stops after a few).
func skmsgVerify(j job, deadline time.Duration) (*verifier.Result, error) {
	p := &verifier.Program{Name: "fuzz", Type: j.kind.Type, AttachType: j.kind.AttachType, Instructions: j.insns, Maps: j.vmaps, License: j.license}
	type answer struct {
		res *verifier.Result
		err error
	}
	done := make(chan answer, 1)
	var once sync.Once
	go func() {
		defer func() {
			if v := recover(); v != nil {
				once.Do(func() { done <- answer{err: fmt.Errorf("skmsg's verifier panicked: %v", v)} })
			}
		}()
		res, err := verifier.Verify(p, verifier.Options{LogLevel: 1})
		once.Do(func() { done <- answer{res: res, err: err} })
	}()
	t := time.NewTimer(deadline)
	defer t.Stop()
	select {
	case a := <-done:
		if a.err != nil {
			return nil, fmt.Errorf("skmsg's verifier: %w", a.err)
		}
		return a.res, nil
	case <-t.C:
		return nil, fmt.Errorf("skmsg's verifier missed its %s deadline", deadline)
	}
}

func (j job) save(dir string, n int, class string, kl *verifiercorpus.Load, sv verifiercorpus.Verdict, sres *verifier.Result) error {
	s := &verifiercorpus.Saved{
		Origin: j.origin, Type: j.kind.Type, AttachType: j.kind.AttachType, License: j.license,
		Maps: j.descs, Insns: verifiercorpus.EncodeInsns(j.insns), Kernel: kl.Verdict, Skmsg: sv, KernelLog: kl.Log,
	}
	if len(s.KernelLog) > 400 {
		s.KernelLog = append(s.KernelLog[:100:100], append([]string{"..."}, s.KernelLog[len(s.KernelLog)-300:]...)...)
	}
	if sres != nil {
		s.SkmsgLog = sres.Log
	}
	name := fmt.Sprintf("%s-%07d.json", class, n)
	return s.WriteFile(filepath.Join(dir, name))
}

// normalizeReason takes the numbers out of a reason, so that one rule's
// refusals at different instructions or offsets count as one class.
func normalizeReason(s string) string {
	var b strings.Builder
	digits := false
	for _, c := range s {
		if c >= '0' && c <= '9' {
			if !digits {
				b.WriteByte('N')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(c)
	}
	return b.String()
}
