package debugger

import (
	"fmt"
	"strconv"
	"strings"
)

// BreakKind says what a breakpoint is set on.
type BreakKind uint8

const (
	BreakLine     BreakKind = iota + 1 // a C source line (BTF line info)
	BreakFunction                      // a program or bpf-to-bpf function by name
	BreakInsn                          // an instruction slot of a program
	BreakStep                          // before a scenario step
)

// BreakSpec is what a front end asks for.
type BreakSpec struct {
	Kind BreakKind
	// File and Line for BreakLine: File as the client names it (absolute
	// path, path relative to the working directory or as BTF records it,
	// or a base name). A line of the scenario file itself is a BreakStep
	// at the step written on that line.
	File string
	Line int
	// Func for BreakFunction: a program name or a subprogram's symbol.
	Func string
	// Program and PC for BreakInsn (PC is the instruction slot, as the
	// disassembly numbers it); Program may be empty when only one program
	// is loaded.
	Program string
	PC      int
	// Step for BreakStep: the step number (1 = first of steps:).
	Step int
	// Cond, when set, is an expression (see Eval) that must be non-zero
	// for the breakpoint to stop: "r2 == 11", "msg->size > 100".
	Cond string
}

// Breakpoint is a breakpoint as the engine holds it.
type Breakpoint struct {
	ID   int
	Spec BreakSpec
	// Verified is set once the breakpoint resolved to at least one
	// instruction (or step); Message says why not otherwise.
	Verified bool
	Message  string
	// Where it resolved: the first location, for display.
	File string // resolved path of the C or scenario file
	Line int
	Hits int

	locs []loc // program instructions it stops at
	cond expr  // parsed Cond
}

// loc is one instruction slot of a program.
type loc struct {
	prog *program
	pc   int
}

// String renders a breakpoint for the terminal.
func (b *Breakpoint) String() string {
	var what string
	switch b.Spec.Kind {
	case BreakLine:
		what = fmt.Sprintf("%s:%d", b.Spec.File, b.Spec.Line)
	case BreakFunction:
		what = b.Spec.Func
	case BreakInsn:
		what = fmt.Sprintf("*%d", b.Spec.PC)
		if b.Spec.Program != "" {
			what = b.Spec.Program + ":" + what
		}
	case BreakStep:
		what = fmt.Sprintf("step %d", b.Spec.Step)
	}
	if b.Spec.Cond != "" {
		what += " if " + b.Spec.Cond
	}
	s := fmt.Sprintf("%d: %s", b.ID, what)
	switch {
	case !b.Verified:
		s += " (pending: " + b.Message + ")"
	case b.Spec.Kind == BreakStep:
		s += fmt.Sprintf(" (%s:%d)", b.File, b.Line)
	case len(b.locs) > 0:
		s += fmt.Sprintf(" (%s pc %d", b.locs[0].prog.name, b.locs[0].pc)
		if n := len(b.locs); n > 1 {
			s += fmt.Sprintf(" and %d more", n-1)
		}
		s += ")"
	}
	if b.Hits > 0 {
		s += fmt.Sprintf(", hit %d time(s)", b.Hits)
	}
	return s
}

// ParseBreakSpec reads the terminal's breakpoint syntax:
//
//	FILE:LINE          a C line (FILE may be a base name)
//	LINE               a line of the file of the current stop
//	FUNC               a program or function name
//	*N  or  PROG:*N    instruction slot N (of PROG)
//	step N             before scenario step N
//
// each optionally followed by "if COND".
func ParseBreakSpec(s string) (BreakSpec, error) {
	s = strings.TrimSpace(s)
	var spec BreakSpec
	if i := strings.Index(s, " if "); i >= 0 {
		spec.Cond = strings.TrimSpace(s[i+4:])
		s = strings.TrimSpace(s[:i])
		if _, err := parseExpr(spec.Cond); err != nil {
			return spec, fmt.Errorf("condition %q: %w", spec.Cond, err)
		}
	}
	if s == "" {
		return spec, fmt.Errorf("break: want FILE:LINE, LINE, FUNC, *N, PROG:*N or step N")
	}
	if rest, ok := strings.CutPrefix(s, "step "); ok {
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil || n < 1 {
			return spec, fmt.Errorf("break step: want a step number from 1, got %q", rest)
		}
		spec.Kind, spec.Step = BreakStep, n
		return spec, nil
	}
	if rest, ok := strings.CutPrefix(s, "*"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			return spec, fmt.Errorf("break *N: want an instruction number, got %q", rest)
		}
		spec.Kind, spec.PC = BreakInsn, n
		return spec, nil
	}
	if prog, rest, ok := strings.Cut(s, ":*"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			return spec, fmt.Errorf("break %s: want PROG:*N with an instruction number", s)
		}
		spec.Kind, spec.Program, spec.PC = BreakInsn, prog, n
		return spec, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 {
			return spec, fmt.Errorf("break %d: lines count from 1", n)
		}
		spec.Kind, spec.Line = BreakLine, n
		return spec, nil
	}
	if i := strings.LastIndex(s, ":"); i > 0 {
		n, err := strconv.Atoi(s[i+1:])
		if err != nil || n < 1 {
			return spec, fmt.Errorf("break %s: want FILE:LINE with a line number from 1", s)
		}
		spec.Kind, spec.File, spec.Line = BreakLine, s[:i], n
		return spec, nil
	}
	spec.Kind, spec.Func = BreakFunction, s
	return spec, nil
}
