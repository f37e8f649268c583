package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skmsg/skmsg/cover"
	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
	"github.com/skmsg/skmsg/scenario/kernel"
)

func init() {
	register(&command{
		Name:    "run",
		Summary: "run scenario files on skmsg (or on the kernel with --kernel)",
		Usage: `usage: skmsg-run run [options] FILE...

Runs each scenario file (see docs/scenarios.md) on skmsg's user-space runtime and
checks every expectation. Files run in parallel (-j); reports are printed
in the order of the sorted files. A failing step is printed with its
number, its line, what was expected and what was seen; bpf_printk output is
printed under the step whose programs printed it.

  --kernel        run on the real kernel instead (needs root and BPF)
  --trace-pipe=false
                  with --kernel: leave the machine-wide trace_pipe alone
                  (bpf_printk output is then not shown)
  --shard I/N     run only the I-th of N slices of the sorted files (1 <= I <= N)
  -j N            files run at once (default: the number of CPUs; kernel
                  runs with sockops programs run one at a time whatever N)
  --json          one JSON object per step on stdout (the report goes to
                  stderr); with --trace each lists the step's program runs.
                  Two runs of a file with the same seed print the same
                  JSON, so it leaves out how long each step took unless
                  --timing is given
  --timing        with --json: give each step's wall-clock duration
                  ("seconds")
  --junit FILE    write a JUnit XML report, one test case per step
  --pcap FILE     write the traffic on the virtual link; with several files,
                  FILE gets each scenario's base name inserted (out-NAME.pcap)
  --seed N        seed for random payloads, bpf_get_prandom_u32 and link
                  faults (overrides the file's seed:)
  --trace         print every program run: instructions with C source lines,
                  changed registers, memory writes, helper calls, verdict
  --cover FILE    record which instructions and branch directions of each
                  program ran, across all files; write them to FILE as an
                  lcov tracefile (for genhtml and CI coverage services) and
                  print a per-program summary (lines, branches, %)
  --cover-html DIR
                  also write a browsable report: the C source with
                  executed, partly executed and never executed lines
  --step-timeout D
                  deadline of each step, its wait for idle included
                  (default 30s); when it passes the step fails saying what
                  it was blocked on and the file's later steps are not run
  --timeout D     deadline of each file (default 10m)
  -v              print every step, not only failures and printk output,
                  and the progress of long steps (streams) on stderr
  --no-verify     load programs on skmsg without its static verifier, so
                  that a program the kernel would refuse still runs (the
                  interpreter's run-time checks stay)
  --color MODE    auto (default: colour when stdout is a terminal), always
                  or never

Exit status: 0 every expectation held, 1 one failed, 2 a file, object or
option cannot be used (scenario errors are reported as FILE:LINE:COL).`,
		Run: runRun,
	})
}

// runFlags are the options run, compare and trace share.
type runFlags struct {
	kernel bool
	// tracePipe collects bpf_printk output of kernel runs from the
	// machine-wide trace_pipe (which consumes it for every other reader).
	tracePipe bool
	shard     string
	jobs      int
	json      bool
	timing    bool
	junit     string
	pcap      string
	seed      string
	trace     bool
	verbose   bool
	color     string
	// cover is the recorder of --cover/--cover-html, shared by every
	// file's backend; nil without them.
	cover     *cover.Recorder
	coverFile string
	coverHTML string
	// noVerify loads programs on skmsg without the static verifier.
	noVerify bool
	// stepTimeout, fileTimeout: --step-timeout, --timeout (0: the
	// scenario package's defaults).
	stepTimeout time.Duration
	fileTimeout time.Duration
}

// seedOption parses --seed.
func (f *runFlags) seedOption() (scenario.Options, error) {
	var opts scenario.Options
	opts.StepTimeout, opts.FileTimeout = f.stepTimeout, f.fileTimeout
	if f.seed != "" {
		n, err := strconv.ParseUint(f.seed, 0, 64)
		if err != nil {
			return opts, fmt.Errorf("--seed %q: want an unsigned integer", f.seed)
		}
		opts.Seed = &n
	}
	return opts, nil
}

// shardFiles sorts files and keeps the I-th of N slices ("I/N", 1-based):
// file k of the sorted list belongs to slice k mod N + 1.
func shardFiles(files []string, shard string) ([]string, error) {
	files = append([]string(nil), files...)
	sort.Strings(files)
	if shard == "" {
		return files, nil
	}
	is, ns, ok := strings.Cut(shard, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return nil, fmt.Errorf("--shard %q: want I/N with 1 <= I <= N", shard)
	}
	var out []string
	for k, f := range files {
		if k%n == i-1 {
			out = append(out, f)
		}
	}
	return out, nil
}

// pcapPath is where the capture of file goes: FILE itself for a single
// scenario, else FILE with the scenario's base name inserted before the
// extension.
func pcapPath(pcap, file string, several bool) string {
	if !several {
		return pcap
	}
	ext := filepath.Ext(pcap)
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	return strings.TrimSuffix(pcap, ext) + "-" + base + ext
}

// fileRun is the outcome of one file.
type fileRun struct {
	file string
	res  *scenario.Result
	runs [][]*emulated.ProgramRun // skmsg only
	err  error                    // the file cannot be used
	code int
}

// runFiles runs every file (at most jobs at once) and returns the outcomes
// in the order of files.
func runFiles(files []string, jobs int, one func(file string) fileRun) []fileRun {
	if jobs < 1 {
		jobs = goruntime.GOMAXPROCS(0)
	}
	out := make([]fileRun, len(files))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = one(f)
		}()
	}
	wg.Wait()
	return out
}

// runOne loads and runs one scenario file on skmsg or the kernel.
func runOne(file string, f *runFlags, opts scenario.Options, pcap string) fileRun {
	fr := fileRun{file: file}
	sc, err := scenario.Load(file)
	if err != nil {
		fr.err, fr.code = err, exitUsage
		return fr
	}
	var backend scenario.Backend
	var sk *emulated.Backend
	var pcapFile *os.File
	if f.kernel {
		backend = &kernel.Backend{TracePipe: f.tracePipe}
	} else {
		sk = &emulated.Backend{Trace: f.trace, Coverage: f.cover, NoVerify: f.noVerify}
		if pcap != "" {
			if pcapFile, err = os.Create(pcap); err != nil {
				fr.err, fr.code = err, exitUsage
				return fr
			}
			sk.Pcap = pcapFile
		}
		backend = sk
	}
	fr.res, err = scenario.Run(sc, backend, opts)
	if pcapFile != nil {
		if cerr := pcapFile.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}
	if sk != nil {
		fr.runs = sk.Runs()
	}
	switch {
	case err != nil && (fr.res == nil || errors.Is(err, errno.ErrNotSupported)):
		// No result, or the backend cannot run something the file needs.
		fr.err, fr.code = err, exitUsage
	case err != nil:
		fr.err, fr.code = err, exitFailure
	case !fr.res.Passed():
		fr.code = exitFailure
	}
	return fr
}

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.BoolVar(&f.kernel, "kernel", false, "run on the real kernel")
	fs.BoolVar(&f.tracePipe, "trace-pipe", true, "with --kernel: collect bpf_printk output from trace_pipe")
	fs.StringVar(&f.shard, "shard", "", "I/N: run the I-th of N slices of the files")
	fs.IntVar(&f.jobs, "j", 0, "files run at once (0: the number of CPUs)")
	fs.BoolVar(&f.json, "json", false, "one JSON object per step on stdout")
	fs.BoolVar(&f.timing, "timing", false, "with --json: give each step's wall-clock duration")
	fs.StringVar(&f.junit, "junit", "", "write a JUnit XML report to `FILE`")
	fs.StringVar(&f.pcap, "pcap", "", "write the traffic to `FILE`")
	fs.StringVar(&f.seed, "seed", "", "seed (overrides the file's)")
	fs.BoolVar(&f.trace, "trace", false, "print every program run")
	fs.BoolVar(&f.verbose, "v", false, "print every step")
	fs.BoolVar(&f.noVerify, "no-verify", false, "load programs on skmsg without the static verifier")
	fs.StringVar(&f.color, "color", "auto", "colour: auto, always or never")
	fs.DurationVar(&f.stepTimeout, "step-timeout", 0, "deadline of each step (default 30s)")
	fs.DurationVar(&f.fileTimeout, "timeout", 0, "deadline of each file (default 10m)")
	fs.StringVar(&f.coverFile, "cover", "", "write lcov coverage to `FILE`")
	fs.StringVar(&f.coverHTML, "cover-html", "", "write an HTML coverage report into `DIR`")
	fs.Usage = func() { fmt.Fprintln(stderr, strings.TrimSpace(commands["run"].Usage)) }
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "skmsg-run run: no scenario file given")
		fs.Usage()
		return exitUsage
	}
	opts, err := f.seedOption()
	if err == nil {
		files, err = shardFiles(files, f.shard)
	}
	if err == nil && (f.stepTimeout < 0 || f.fileTimeout < 0) {
		err = fmt.Errorf("--step-timeout and --timeout must not be negative")
	}
	if f.verbose {
		opts.Progress = func(p scenario.Progress) {
			fmt.Fprintf(stderr, "%s: step %d (line %d) %s: %d of %d bytes written, %d received\n",
				p.File, p.Step, p.Line, p.Desc, p.Sent, p.Size, p.Received)
		}
	}
	if err == nil && f.kernel {
		switch {
		case f.pcap != "":
			err = fmt.Errorf("--pcap captures skmsg's virtual link; it cannot be used with --kernel")
		case f.trace:
			err = fmt.Errorf("--trace follows skmsg's interpreter; it cannot be used with --kernel")
		case f.coverFile != "" || f.coverHTML != "":
			err = fmt.Errorf("--cover and --cover-html measure skmsg's interpreter; they cannot be used with --kernel")
		default:
			err = kernel.Available()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run run: %v\n", err)
		return exitUsage
	}
	color, err := useColor(f.color, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run run: %v\n", err)
		return exitUsage
	}

	if f.coverFile != "" || f.coverHTML != "" {
		f.cover = cover.NewRecorder()
	}
	results := runFiles(files, f.jobs, func(file string) fileRun {
		pcap := ""
		if f.pcap != "" {
			pcap = pcapPath(f.pcap, file, len(files) > 1)
		}
		return runOne(file, &f, opts, pcap)
	})

	report := stdout
	if f.json {
		report = stderr
	}
	code := exitOK
	var all []*scenario.Result
	for _, fr := range results {
		code = max(code, fr.code)
		if fr.err != nil {
			fmt.Fprintf(stderr, "%v\n", fr.err)
		}
		if fr.res == nil {
			continue
		}
		all = append(all, fr.res)
		if f.json {
			if err := writeJSON(stdout, fr, f.timing); err != nil {
				fmt.Fprintf(stderr, "skmsg-run run: %v\n", err)
				code = max(code, exitFailure)
			}
		}
		var b bytes.Buffer
		writeReport(&b, fr, f.verbose || f.trace, f.trace, color)
		report.Write(b.Bytes())
	}
	if f.junit != "" {
		if err := writeJUnitFile(f.junit, all); err != nil {
			fmt.Fprintf(stderr, "skmsg-run run: %v\n", err)
			code = max(code, exitFailure)
		}
	}
	if f.cover != nil {
		if err := writeCoverage(report, &f); err != nil {
			fmt.Fprintf(stderr, "skmsg-run run: %v\n", err)
			code = max(code, exitFailure)
		}
	}
	return code
}

// writeJSON writes one JSON object per step; with --trace each also lists
// the step's program runs (program, socket, verdict, target; not the
// instructions). Without timing the steps' wall-clock durations are left
// out, the only part of a run that a seed does not fix.
func writeJSON(w io.Writer, fr fileRun, timing bool) error {
	r := fr.res
	if !timing {
		rc := *r
		rc.Steps = append([]scenario.StepResult(nil), r.Steps...)
		for i := range rc.Steps {
			rc.Steps[i].Seconds = 0
		}
		r = &rc
	}
	if fr.runs == nil {
		return r.WriteJSON(w)
	}
	enc := json.NewEncoder(w)
	for i, s := range r.Steps {
		rec := struct {
			Scenario string `json:"scenario"`
			File     string `json:"file"`
			Backend  string `json:"backend"`
			scenario.StepResult
			Runs []*emulated.ProgramRun `json:"runs,omitempty"`
		}{Scenario: r.Scenario, File: r.File, Backend: r.Backend, StepResult: s}
		if i < len(fr.runs) {
			rec.Runs = fr.runs[i]
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return nil
}

func writeJUnitFile(path string, results []*scenario.Result) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := scenario.WriteJUnit(out, results...); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// writeReport prints one file's result: every step when all is set, else
// the failing steps and those with printk output, then a summary line.
func writeReport(w io.Writer, fr fileRun, all, trace bool, color bool) {
	p := painter{on: color}
	r := fr.res
	fmt.Fprintf(w, "%s %s (%s)\n", p.paint(bold, "==="), r.File, r.Scenario)
	for i, s := range r.Steps {
		if !all && s.Pass && len(s.Obs.Logs) == 0 && len(s.Obs.Notes) == 0 {
			continue
		}
		status := p.paint(green, "PASS")
		if !s.Pass {
			status = p.paint(red, "FAIL")
		}
		fmt.Fprintf(w, "%s %s: %s\n", status, s.Name(), s.Desc)
		if !s.Pass {
			for _, l := range strings.Split(s.Message, "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		for _, l := range s.Obs.Logs {
			fmt.Fprintf(w, "    %s %s\n", p.paint(yellow, "bpf_printk:"), l)
		}
		for _, l := range s.Obs.Notes {
			fmt.Fprintf(w, "    %s %s\n", p.paint(dim, "note:"), l)
		}
		if all {
			writeRecords(w, &s.Obs, p)
		}
		if trace && i < len(fr.runs) {
			for _, run := range fr.runs[i] {
				writeProgramRun(w, run, "    ", p)
			}
		}
	}
	fails := len(r.Failures())
	verdict := p.paint(green, "PASS")
	if fails > 0 {
		verdict = p.paint(red, "FAIL")
	}
	fmt.Fprintf(w, "%s %s: %d of %d steps passed on %s (seed %d)\n", verdict, r.File, len(r.Steps)-fails, len(r.Steps), r.Backend, r.Seed)
}
