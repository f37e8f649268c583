package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/skmsg/skmsg/internal/kernelbuild"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
	"github.com/skmsg/skmsg/scenario/kernel"
)

func init() {
	register(&command{
		Name:    "compare",
		Summary: "run scenario files on skmsg and on the kernel and show where they differ",
		Usage: `usage: skmsg-run compare [options] FILE...

Runs each scenario file on skmsg and on the real kernel and prints, step by
step, where their observations differ: return values and errnos, bytes
received per socket, end of stream, map lookups, and every map's contents at
the end. Sockets are compared by name, so cookies that differ between the
two but name the same socket agree. Expectations in the file are not what
is compared: a step both get wrong the same way is no difference.

  --shard I/N   compare only the I-th of N slices of the sorted files
  --seed N      seed for random payloads, prandom and link faults
  --json        one JSON object per difference on stdout
  -v            also print the whole log of every verifier (the kernel's,
                skmsg's) that refused a program

Exit status: 0 no difference, 1 a difference, 2 a file cannot be used or
the kernel cannot run BPF here (not root, BPF not permitted).`,
		Run: runCompare,
	})
}

func runCompare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.shard, "shard", "", "I/N: compare the I-th of N slices of the files")
	fs.StringVar(&f.seed, "seed", "", "seed (overrides the file's)")
	fs.BoolVar(&f.json, "json", false, "one JSON object per difference")
	fs.BoolVar(&f.verbose, "v", false, "print whole verifier logs")
	fs.StringVar(&f.color, "color", "auto", "colour: auto, always or never")
	fs.Usage = func() { fmt.Fprintln(stderr, strings.TrimSpace(commands["compare"].Usage)) }
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "skmsg-run compare: no scenario file given")
		fs.Usage()
		return exitUsage
	}
	opts, err := f.seedOption()
	if err == nil {
		files, err = shardFiles(files, f.shard)
	}
	if err == nil {
		err = kernel.Available()
	}
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run compare: %v\n", err)
		return exitUsage
	}
	color, err := useColor(f.color, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run compare: %v\n", err)
		return exitUsage
	}
	p := painter{on: color}
	// skmsg emulates the build of the running kernel where builds differ.
	build, err := kernelbuild.Probe()
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run compare: %v; emulating the current build\n", err)
	}
	code := exitOK
	enc := json.NewEncoder(stdout)
	// One file at a time: kernel sessions are serialised anyway, and the
	// skmsg run of a file is short next to its kernel run.
	for _, file := range files {
		sc, err := scenario.Load(file)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			code = max(code, exitUsage)
			continue
		}
		cmp, err := scenario.Compare(sc, &emulated.Backend{Kernel: build}, kernel.New(), opts)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			code = max(code, exitUsage)
			continue
		}
		if !cmp.Same() {
			code = max(code, exitFailure)
		}
		if f.json {
			for _, d := range cmp.Differences {
				rec := struct {
					File string `json:"file"`
					scenario.Difference
				}{file, d}
				if err := enc.Encode(rec); err != nil {
					fmt.Fprintf(stderr, "skmsg-run compare: %v\n", err)
					return exitFailure
				}
			}
			continue
		}
		writeComparison(stdout, file, cmp, p)
		if f.verbose {
			writeVerifierLogs(stdout, cmp, p)
		}
	}
	return code
}

// writeComparison prints the differences of one file, skmsg's side first.
func writeComparison(w io.Writer, file string, cmp *scenario.Comparison, p painter) {
	a, b := cmp.A.Backend, cmp.B.Backend
	width := max(len(a), len(b)) + 1
	fmt.Fprintf(w, "%s %s (%s): %s vs %s\n", p.paint(bold, "==="), file, cmp.A.Scenario, a, b)
	for _, d := range cmp.Differences {
		where := fmt.Sprintf("step %d (line %d) %s", d.Number, d.Line, d.Kind)
		switch d.Phase {
		case scenario.PhaseSetup:
			where = fmt.Sprintf("setup (line %d) %s", d.Line, d.Kind)
		case scenario.PhaseMaps:
			where = fmt.Sprintf("maps[%d] (line %d) %s", d.Number, d.Line, d.Kind)
		case "":
			where = "final contents"
		}
		fmt.Fprintf(w, "%s %s: %s differs\n", p.paint(red, "DIFF"), where, d.What)
		fmt.Fprintf(w, "    %-*s %s\n", width, a+":", indentLines(d.A, 6+width))
		fmt.Fprintf(w, "    %-*s %s\n", width, b+":", indentLines(d.B, 6+width))
	}
	status := p.paint(green, "SAME")
	if !cmp.Same() {
		status = p.paint(red, "DIFFERENT")
	}
	fmt.Fprintf(w, "%s %s: %d difference(s) in %d steps (%s: %d of %d passed, %s: %d of %d passed)\n",
		status, file, len(cmp.Differences), len(cmp.A.Steps),
		a, len(cmp.A.Steps)-len(cmp.A.Failures()), len(cmp.A.Steps),
		b, len(cmp.B.Steps)-len(cmp.B.Failures()), len(cmp.B.Steps))
}

// writeVerifierLogs prints, per backend, the whole verifier log of each
// program it refused.
func writeVerifierLogs(w io.Writer, cmp *scenario.Comparison, p painter) {
	for _, r := range []*scenario.Result{cmp.A, cmp.B} {
		for i := range r.Steps {
			s := &r.Steps[i]
			if len(s.Obs.Log) == 0 {
				continue
			}
			fmt.Fprintf(w, "%s %s: %s refused it:\n", p.paint(bold, "---"), s.Desc, r.Backend)
			writeVerifierLog(w, &s.Obs, "    ", p)
		}
	}
}

func indentLines(s string, n int) string {
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
}
