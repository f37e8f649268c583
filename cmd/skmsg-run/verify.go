package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/verifier"
)

func init() {
	register(&command{
		Name:    "verify",
		Summary: "check BPF objects with skmsg's verifier, as loading them into the kernel would",
		Usage: `usage: skmsg-run verify [--json] [-v] [--program NAME] [--type NAME=TYPE]... OBJ...

Runs skmsg's static verifier (the rules of the Linux 6.18 verifier, for a
privileged loader) on every sk_msg, sk_skb and sockops program of each
object and prints, per program, whether the kernel would accept it and,
when it would not, the errno of the load and the verifier's reason with
the instruction and C source line it stopped at.

  --json            one JSON object per program and line:
                    {"object","program","accepted","errno","reason",
                     "insn","line"}
  -v                print the whole verifier log of each program
  --program NAME    verify only this program
  --type NAME=TYPE  set the type of program or section NAME (see disasm)

Programs of other types are listed as skipped (not verified).

Exit status: 0 every program accepted, 1 a program refused, 2 unusable
object or arguments.`,
		Run: runVerify,
	})
}

// verifyLine is one program's verdict in --json output.
type verifyLine struct {
	Object   string `json:"object"`
	Program  string `json:"program"`
	Accepted bool   `json:"accepted"`
	Errno    string `json:"errno,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Insn     *int   `json:"insn,omitempty"`
	Line     string `json:"line,omitempty"`
	Skipped  string `json:"skipped,omitempty"`
	Log      string `json:"log,omitempty"`
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "JSON lines output")
	verbose := fs.Bool("v", false, "print the whole verifier log")
	program := fs.String("program", "", "verify only this program")
	var types typeFlags
	fs.Var(&types, "type", "NAME=TYPE: type of a program or section")
	fs.Usage = func() { fmt.Fprintln(stderr, strings.TrimSpace(commands["verify"].Usage)) }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) == 0 {
		fmt.Fprintln(stderr, "skmsg-run verify: want at least one object file")
		fs.Usage()
		return exitUsage
	}
	code := exitOK
	enc := json.NewEncoder(stdout)
	for _, path := range pos {
		obj, err := loader.Open(path, types...)
		if err != nil {
			fmt.Fprintf(stderr, "skmsg-run verify: %v\n", err)
			return exitUsage
		}
		progs := obj.ProgramList
		if *program != "" {
			p, err := obj.Program(*program)
			if err != nil {
				fmt.Fprintf(stderr, "skmsg-run verify: %s: %v\n", path, err)
				return exitUsage
			}
			progs = []*loader.ProgramSpec{p}
		}
		for _, p := range progs {
			line := verifyLine{Object: path, Program: p.Name}
			res, err := verifier.Verify(verifier.FromLoader(obj, p), verifier.Options{LogLevel: logLevel(*verbose)})
			switch {
			case errors.Is(err, verifier.ErrUnsupportedType):
				line.Accepted = true
				line.Skipped = fmt.Sprintf("program type %s is not verified by skmsg", p.Type)
			case err != nil:
				fmt.Fprintf(stderr, "skmsg-run verify: %s: %v\n", path, err)
				return exitUsage
			default:
				line.Accepted = res.Accepted
				if !res.Accepted {
					code = exitFailure
					line.Errno = verifier.ErrnoName(res.Errno)
					line.Reason = res.Reason
					if res.Insn >= 0 {
						insn := res.Insn
						line.Insn = &insn
					}
					line.Line = res.Line
				}
				if *verbose {
					line.Log = res.Log
				}
			}
			if *asJSON {
				if err := enc.Encode(line); err != nil {
					fmt.Fprintf(stderr, "skmsg-run verify: writing output: %v\n", err)
					return exitFailure
				}
				continue
			}
			printVerifyLine(stdout, line)
		}
	}
	return code
}

func logLevel(verbose bool) int {
	if verbose {
		return 1
	}
	return 0
}

func printVerifyLine(w io.Writer, l verifyLine) {
	switch {
	case l.Skipped != "":
		fmt.Fprintf(w, "%s: %s: skipped (%s)\n", l.Object, l.Program, l.Skipped)
	case l.Accepted:
		fmt.Fprintf(w, "%s: %s: accepted\n", l.Object, l.Program)
	default:
		where := ""
		if l.Insn != nil {
			where = fmt.Sprintf(" at insn %d", *l.Insn)
		}
		fmt.Fprintf(w, "%s: %s: refused (%s)%s: %s\n", l.Object, l.Program, l.Errno, where, l.Reason)
		if l.Line != "" && l.Log == "" {
			fmt.Fprintf(w, "    ; %s\n", l.Line)
		}
	}
	if l.Log != "" {
		for _, s := range strings.Split(strings.TrimRight(l.Log, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", s)
		}
	}
}
