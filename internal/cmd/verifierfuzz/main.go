// Command verifierfuzz is the differential fuzzer of skmsg's verifier: it
// mutates the programs of the verifier corpus (testdata/verifier) and
// generates programs of the five sockmap attach kinds, verifies each with
// the running kernel and with skmsg's verifier, counts the agreements and
// saves the programs they disagree on for triage:
//
//	go run ./internal/cmd/verifierfuzz -duration 30m -out /tmp/vfuzz
//
// It needs BPF permission (root). A saved program replays with -replay.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/skmsg/skmsg/internal/verifiercorpus"
	"github.com/skmsg/skmsg/internal/verifierfuzz"
	"github.com/skmsg/skmsg/verifier"
)

func main() {
	duration := flag.Duration("duration", time.Minute, "how long to fuzz")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed (printed, to repeat a run)")
	out := flag.String("out", "", "directory for the disagreeing programs and stats.json (none: count only)")
	perClass := flag.Int("per-class", 3, "programs saved per disagreement class")
	every := flag.Duration("progress", time.Minute, "how often to print the running counts")
	withE2BIG := flag.Bool("e2big-seeds", false, "also mutate the corpus programs the kernel refuses for the complexity limit (each takes the kernel about a second, and skmsg longer)")
	deadline := flag.Duration("deadline", time.Minute, "how long one skmsg verification may take before it counts as a failure")
	maxFailures := flag.Int("max-deadline-misses", 5, "stop after this many missed deadlines (-1: never)")
	replay := flag.String("replay", "", "verify one saved program (JSON) with skmsg's verifier and print its verdict and log")
	flag.Parse()

	if *replay != "" {
		if err := replaySaved(*replay); err != nil {
			fmt.Fprintln(os.Stderr, "verifierfuzz:", err)
			os.Exit(1)
		}
		return
	}
	cases, err := seeds(*withE2BIG)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifierfuzz:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Printf("verifierfuzz: seed %d, %d corpus programs, %s\n", *seed, len(cases), *duration)
	st, err := verifierfuzz.Fuzz(ctx, cases, verifierfuzz.FuzzConfig{
		Duration: *duration, Seed: *seed, OutDir: *out, PerClass: *perClass,
		SkmsgDeadline: *deadline, MaxDeadlineMisses: *maxFailures,
		ProgressEvery: *every,
		Progress:      func(s verifierfuzz.FuzzStats) { fmt.Println("verifierfuzz:", s) },
	})
	fmt.Println("verifierfuzz: done:", st)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifierfuzz:", err)
		os.Exit(1)
	}
}

// seeds are the corpus programs to mutate: all of them, or all but the
// ones the committed verdicts say hit the complexity limit.
func seeds(withE2BIG bool) ([]verifiercorpus.Case, error) {
	cases, err := verifiercorpus.Cases()
	if err != nil || withE2BIG {
		return cases, err
	}
	f, err := verifiercorpus.ReadFile(verifiercorpus.VerdictsPath())
	if err != nil {
		return nil, err
	}
	verdicts := f.Map()
	var out []verifiercorpus.Case
	for _, c := range cases {
		if verdicts[c.Key()].Errno != "E2BIG" {
			out = append(out, c)
		}
	}
	return out, nil
}

func replaySaved(path string) error {
	s, err := verifiercorpus.ReadSaved(path)
	if err != nil {
		return err
	}
	license := s.License
	if license == "" {
		license = "GPL"
	}
	p := &verifier.Program{Name: "replay", Type: s.Type, AttachType: s.AttachType, Instructions: verifiercorpus.DecodeInsns(s.Insns), License: license, Maps: map[string]*verifier.Map{}}
	for _, m := range s.Maps {
		p.Maps[m.Name] = &verifier.Map{Name: m.Name, Type: m.Type, KeySize: m.KeySize, ValueSize: m.ValueSize, MaxEntries: m.MaxEntries, Flags: m.Flags}
	}
	res, err := verifier.Verify(p, verifier.Options{LogLevel: 1})
	if err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	fmt.Printf("%s (%s)\n%s\nkernel: %s\nskmsg:  ", path, s.Origin, p.Instructions, s.Kernel)
	b, _ := json.Marshal(struct {
		Accepted bool   `json:"accepted"`
		Errno    string `json:"errno,omitempty"`
		Insn     int    `json:"insn"`
		Reason   string `json:"reason,omitempty"`
	}{res.Accepted, verifier.ErrnoName(res.Errno), res.Insn, res.Reason})
	fmt.Printf("%s\n\n%s", b, res.Log)
	return nil
}
