package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

func init() {
	register(&command{
		Name:    "trace",
		Summary: "run a scenario on skmsg and show every program run instruction by instruction",
		Usage: `usage: skmsg-run trace [options] FILE

Runs the scenario on skmsg and prints, under each step, every program run it
caused: the instructions executed with the C source line they come from
(BTF line info), the registers each changed, the memory written, helper
calls with their arguments and results, and the verdict with its target.
Colour when stdout is a terminal.

  --step N        only the runs of step N (of steps:; as numbered in run's output)
  --program NAME  only the runs of program NAME
  --seed N        seed for random payloads, prandom and link faults
  --color MODE    auto (default), always or never

Exit status: 0 every expectation held, 1 one failed, 2 the file or an
object cannot be used.`,
		Run: runTrace,
	})
}

func runTrace(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	step := fs.Int("step", 0, "only the runs of step `N`")
	program := fs.String("program", "", "only the runs of program `NAME`")
	fs.StringVar(&f.seed, "seed", "", "seed (overrides the file's)")
	fs.StringVar(&f.color, "color", "auto", "colour: auto, always or never")
	fs.Usage = func() { fmt.Fprintln(stderr, strings.TrimSpace(commands["trace"].Usage)) }
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "skmsg-run trace: want exactly one scenario file")
		fs.Usage()
		return exitUsage
	}
	opts, err := f.seedOption()
	if err == nil && *step < 0 {
		err = fmt.Errorf("--step %d: steps are numbered from 1", *step)
	}
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run trace: %v\n", err)
		return exitUsage
	}
	color, err := useColor(f.color, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run trace: %v\n", err)
		return exitUsage
	}
	f.trace = true
	fr := runOne(files[0], &f, opts, "")
	if fr.err != nil {
		fmt.Fprintf(stderr, "%v\n", fr.err)
	}
	if fr.res == nil {
		return fr.code
	}
	if *step > 0 {
		n := 0
		for _, s := range fr.res.Steps {
			if s.Phase == scenario.PhaseSteps {
				n++
			}
		}
		if *step > n {
			fmt.Fprintf(stderr, "skmsg-run trace: --step %d: %s has %d steps\n", *step, files[0], n)
			return exitUsage
		}
	}
	p := painter{on: color}
	shown := 0
	for i, s := range fr.res.Steps {
		if *step > 0 && (s.Phase != scenario.PhaseSteps || s.Number != *step) {
			continue
		}
		var runs []*emulated.ProgramRun
		if i < len(fr.runs) {
			for _, r := range fr.runs[i] {
				if *program == "" || r.Program == *program {
					runs = append(runs, r)
				}
			}
		}
		if len(runs) == 0 && *step == 0 && s.Pass {
			continue
		}
		status := p.paint(green, "PASS")
		if !s.Pass {
			status = p.paint(red, "FAIL")
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", status, s.Name(), s.Desc)
		if !s.Pass {
			for _, l := range strings.Split(s.Message, "\n") {
				fmt.Fprintf(stdout, "    %s\n", l)
			}
		}
		for _, l := range s.Obs.Logs {
			fmt.Fprintf(stdout, "    %s %s\n", p.paint(yellow, "bpf_printk:"), l)
		}
		writeRecords(stdout, &s.Obs, p)
		for _, r := range runs {
			writeProgramRun(stdout, r, "    ", p)
			shown++
		}
	}
	if shown == 0 {
		what := "no program ran"
		if *program != "" {
			what = fmt.Sprintf("program %s did not run", *program)
		}
		if *step > 0 {
			what += fmt.Sprintf(" in step %d", *step)
		}
		fmt.Fprintf(stdout, "%s\n", what)
	}
	return fr.code
}
