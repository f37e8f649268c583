package debugger

import (
	"fmt"
	"path/filepath"

	"github.com/cilium/ebpf/btf"
)

// SetBreakpoints replaces the breakpoints of one kind (for BreakLine: of
// one file; a line of the scenario file is a step breakpoint) with specs,
// and returns them in the same order, each resolved or saying why not.
func (e *Engine) SetBreakpoints(kind BreakKind, file string, specs []BreakSpec) []Breakpoint {
	e.mu.Lock()
	keep := e.bps[:0:0]
	for _, b := range e.bps {
		if !e.replacedBy(b, kind, file) {
			keep = append(keep, b)
		}
	}
	e.bps = keep
	out := make([]Breakpoint, 0, len(specs))
	for _, s := range specs {
		s.Kind = kind
		if kind == BreakLine {
			s.File = file
		}
		b := e.addLocked(s)
		out = append(out, b.snapshot())
	}
	e.mu.Unlock()
	return out
}

// replacedBy reports whether a SetBreakpoints(kind, file) call replaces b.
func (e *Engine) replacedBy(b *Breakpoint, kind BreakKind, file string) bool {
	if kind == BreakLine {
		return (b.Spec.Kind == BreakLine || b.Spec.Kind == BreakStep && b.Spec.File != "") && b.Spec.File == file
	}
	return b.Spec.Kind == kind && b.Spec.File == ""
}

// AddBreakpoint adds one breakpoint (the terminal's break). A line with no
// file is taken in the file of the current stop.
func (e *Engine) AddBreakpoint(s BreakSpec) (Breakpoint, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.Kind == BreakLine && s.File == "" {
		th := e.stopped
		if th == nil || th == e.scen {
			return Breakpoint{}, fmt.Errorf("break %d: which file? give FILE:LINE", s.Line)
		}
		_, key := e.byVM[th.at.Program].line(th.at.PC)
		if !key.valid() {
			return Breakpoint{}, fmt.Errorf("break %d: the current instruction has no source line; give FILE:LINE", s.Line)
		}
		s.File = key.file
	}
	b := e.addLocked(s)
	return b.snapshot(), nil
}

// DeleteBreakpoint removes a breakpoint by id.
func (e *Engine) DeleteBreakpoint(id int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, b := range e.bps {
		if b.ID == id {
			e.bps = append(e.bps[:i], e.bps[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("no breakpoint %d", id)
}

// Breakpoints lists the breakpoints.
func (e *Engine) Breakpoints() []Breakpoint {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Breakpoint, len(e.bps))
	for i, b := range e.bps {
		out[i] = b.snapshot()
	}
	return out
}

func (e *Engine) addLocked(s BreakSpec) *Breakpoint {
	b := &Breakpoint{ID: e.nextBP, Spec: s}
	e.nextBP++
	if s.Cond != "" {
		c, err := parseExpr(s.Cond)
		if err != nil {
			b.Message = fmt.Sprintf("condition %q: %v", s.Cond, err)
			e.bps = append(e.bps, b)
			return b
		}
		b.cond = c
	}
	e.resolveLocked(b)
	e.bps = append(e.bps, b)
	return b
}

// resolveAllLocked resolves the breakpoints still pending (a program was
// added) and returns the events for those that changed.
func (e *Engine) resolveAllLocked() []Event {
	var evs []Event
	for _, b := range e.bps {
		was, n := b.Verified, len(b.locs)
		if b.cond == nil && b.Spec.Cond != "" {
			continue // a condition that does not parse stays unverified
		}
		e.resolveLocked(b)
		if b.Verified != was || len(b.locs) != n {
			c := b.snapshot()
			evs = append(evs, Event{Kind: EventBreakpoint, Breakpoint: &c})
		}
	}
	return evs
}

// snapshot is a copy of b for a front end, sharing nothing the engine
// changes later.
func (b *Breakpoint) snapshot() Breakpoint {
	c := *b
	c.locs = append([]loc(nil), b.locs...)
	return c
}

// resolveLocked finds where b stops in the known programs.
func (e *Engine) resolveLocked(b *Breakpoint) {
	b.locs = nil // never reuse: snapshots handed out share no memory
	b.Verified, b.Message = false, ""
	s := &b.Spec
	switch s.Kind {
	case BreakLine:
		if e.scenarioFile(s.File) {
			e.resolveStepLine(b)
			return
		}
		e.resolveLine(b)
	case BreakFunction:
		for _, p := range e.programs {
			for _, f := range p.funcs {
				if f.name == s.Func {
					b.locs = append(b.locs, loc{prog: p, pc: f.start})
				}
			}
		}
		if len(b.locs) == 0 && e.declaredFunc(s.Func) {
			b.Verified = true // placed when the program is loaded
			return
		}
		if len(b.locs) == 0 {
			b.Message = fmt.Sprintf("no program or function %q loaded (yet)", s.Func)
		}
	case BreakInsn:
		for _, p := range e.programs {
			if s.Program != "" && p.name != s.Program {
				continue
			}
			if s.Program == "" && len(e.programs) > 1 {
				b.Message = "several programs are loaded: give PROG:*N"
				return
			}
			if _, ok := p.insn(s.PC); !ok {
				b.Message = fmt.Sprintf("%s has no instruction at slot %d (%d slots)", p.name, s.PC, p.vm.NumInsns())
				return
			}
			b.locs = append(b.locs, loc{prog: p, pc: s.PC})
		}
		if len(b.locs) == 0 && b.Message == "" {
			for _, d := range e.cfg.Declared {
				if d.Name == s.Program && s.PC < len(d.Insns)*2 {
					// Placed (and its slot checked) when it is loaded.
					b.Verified = true
					return
				}
			}
			b.Message = fmt.Sprintf("no program %q in the scenario", s.Program)
		}
	case BreakStep:
		for _, st := range e.cfg.Steps {
			if st.Number == s.Step {
				b.Verified, b.File, b.Line = true, st.File, st.Line
				return
			}
		}
		b.Message = fmt.Sprintf("the scenario has %d steps", len(e.cfg.Steps))
		return
	}
	if len(b.locs) > 0 {
		b.Verified = true
		if l, key := b.locs[0].prog.line(b.locs[0].pc); l != nil {
			b.File, b.Line = e.srcs.path(key.file), key.line
			if b.File == "" {
				b.File = key.file
			}
		}
	}
}

// resolveLine finds the first instruction of every statement on the line
// (or, when none is on it, on the next line that has code, as debuggers
// move a breakpoint set on a comment or blank line).
func (e *Engine) resolveLine(b *Breakpoint) {
	s := &b.Spec
	best := 0
	for _, p := range e.programs {
		for pc := range p.lines {
			l, key := p.line(pc)
			if l == nil || !p.stmt[pc] || key.line < s.Line {
				continue
			}
			if !sameFile(s.File, key.file, e.srcs.path(key.file)) {
				continue
			}
			switch {
			case best == 0 || key.line < best:
				best = key.line
				b.locs = append(b.locs[:0], loc{prog: p, pc: pc})
			case key.line == best:
				b.locs = append(b.locs, loc{prog: p, pc: pc})
			}
		}
	}
	// A line moved by more than a few lines is likely in another
	// function: refuse rather than surprise.
	if best > s.Line+3 {
		b.locs = b.locs[:0]
	}
	if len(b.locs) == 0 {
		if line := e.declaredLine(s.File, s.Line); line > 0 {
			// Placed when the program is loaded.
			b.Verified, b.Line = true, line
			return
		}
		b.Message = fmt.Sprintf("no code on %s:%d in the scenario's programs", filepath.Base(s.File), s.Line)
	}
}

// declaredLine is resolveLine over the declared programs: the first line
// at or after line (by at most 3) that starts a statement, or 0.
func (e *Engine) declaredLine(file string, line int) int {
	best := 0
	for _, d := range e.cfg.Declared {
		for i := range d.Insns {
			l, ok := d.Insns[i].Source().(*btf.Line)
			if !ok || int(l.LineNumber()) < line || !sameFile(file, l.FileName(), e.srcs.path(l.FileName())) {
				continue
			}
			if n := int(l.LineNumber()); best == 0 || n < best {
				best = n
			}
		}
	}
	if best > line+3 {
		return 0
	}
	return best
}

// declaredFunc reports whether a declared program has a function name.
func (e *Engine) declaredFunc(name string) bool {
	for _, d := range e.cfg.Declared {
		if d.Name == name {
			return true
		}
		for i := range d.Insns {
			if d.Insns[i].Symbol() == name {
				return true
			}
		}
	}
	return false
}

// resolveStepLine makes a line of the scenario file a breakpoint before
// the step written there (the last step starting at or before the line).
func (e *Engine) resolveStepLine(b *Breakpoint) {
	var found *StepInfo
	for i := range e.cfg.Steps {
		st := &e.cfg.Steps[i]
		if st.Line <= b.Spec.Line && (found == nil || st.Line > found.Line) {
			found = st
		}
	}
	if found == nil {
		b.Message = fmt.Sprintf("no step at or before line %d of the scenario", b.Spec.Line)
		return
	}
	b.Spec.Kind, b.Spec.Step = BreakStep, found.Number
	b.Verified, b.File, b.Line = true, found.File, found.Line
}
