// Package term is the debugger's terminal front end: a gdb-like command
// line with editing and history (github.com/chzyer/readline) over one
// scenario run.
package term

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chzyer/readline"

	"github.com/skmsg/skmsg/debugger"
)

// Options configure a terminal session.
type Options struct {
	// In and Out are the terminal; nil means stdin and stdout.
	In  io.ReadCloser
	Out io.Writer
	// HistoryFile keeps the command history across sessions; "" keeps it
	// in memory only.
	HistoryFile string
	// EndTimeout bounds how long quit waits for the scenario to finish
	// once the debugger let go of it; 0 means 30s.
	EndTimeout time.Duration
}

const help = `Commands (abbreviations in brackets):
  run [r], continue [c]     start the scenario / resume until the next stop
  next [n], step [s]        next C line, over / into bpf-to-bpf calls
  nexti [ni], stepi [si]    next instruction, over / into calls
  finish [fin]              run until the current function returns
  break [b] SPEC [if COND]  FILE:LINE, LINE, FUNC, *N, PROG:*N or step N
  delete [d] [N]            delete breakpoint N (all without N)
  print [p] EXPR            r0..r10, pc, ctx.FIELD or msg->FIELD, stack[-8],
                            u8/u16/u32/u64[ADDR], packet, map NAME [KEY],
                            arithmetic and comparisons
  info registers [i r]      all registers (pointers as region+offset)
  info breakpoints [i b]    breakpoints
  info threads              program runs in progress
  bt, where                 the call stack
  frame [f] N, up, down     select a frame for print and list
  list [l]                  source around the current line
  disas [x]                 instructions around the current one
  quit [q]                  let the scenario finish and leave
`

// session is one terminal run.
type session struct {
	t      debugger.Target
	file   string
	e      *debugger.Engine
	rl     *readline.Instance
	out    io.Writer
	opts   Options
	events chan debugger.Event

	started bool
	ended   bool
	done    chan struct{}
	outcome debugger.Outcome
	runErr  error

	tid   int // the stopped thread
	frame int // the selected frame
}

// Run debugs the scenario t (from file) on a terminal until quit or the
// end of input; it returns the exit status: 0 when the scenario ran and
// passed (or never ran), 1 when it failed, 2 when it could not run.
func Run(t debugger.Target, file string, opts Options) (int, error) {
	cfg := &readline.Config{Prompt: "(skmsg) ", HistoryFile: opts.HistoryFile, AutoComplete: completer(),
		InterruptPrompt: "^C", EOFPrompt: "quit"}
	if opts.In != nil {
		cfg.Stdin = opts.In
	}
	if opts.Out != nil {
		cfg.Stdout, cfg.Stderr = opts.Out, opts.Out
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return 2, fmt.Errorf("starting the terminal: %w", err)
	}
	defer rl.Close()
	s := &session{t: t, file: file, rl: rl, out: rl.Stdout(), opts: opts, events: make(chan debugger.Event, 64)}
	c := t.Config()
	c.Notify = func(ev debugger.Event) { s.events <- ev }
	s.e = debugger.New(c)
	fmt.Fprintf(s.out, "Debugging %s (%d steps). Set breakpoints, then 'run'; 'help' lists the commands.\n", file, len(c.Steps))
	for {
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			continue
		}
		if err != nil { // EOF: as quit
			return s.quit(), nil
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if s.do(line) {
			return s.quit(), nil
		}
	}
}

// do runs one command; it reports whether the session ends.
func (s *session) do(line string) bool {
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	var err error
	switch cmd {
	case "help", "h", "?":
		fmt.Fprint(s.out, help)
	case "quit", "q", "exit":
		return true
	case "run", "r", "continue", "c":
		err = s.resume(func() error { return s.e.Continue() })
	case "next", "n":
		err = s.resume(func() error { return s.e.StepOver(debugger.Line) })
	case "step", "s":
		err = s.resume(func() error { return s.e.StepIn(debugger.Line) })
	case "nexti", "ni":
		err = s.resume(func() error { return s.e.StepOver(debugger.Instruction) })
	case "stepi", "si":
		err = s.resume(func() error { return s.e.StepIn(debugger.Instruction) })
	case "finish", "fin":
		err = s.resume(func() error { return s.e.StepOut() })
	case "break", "b":
		err = s.breakCmd(arg)
	case "delete", "d":
		err = s.deleteCmd(arg)
	case "print", "p":
		var v string
		v, err = s.e.Eval(s.tid, s.frame, arg)
		if err == nil {
			fmt.Fprintf(s.out, "%s = %s\n", arg, v)
		}
	case "info", "i":
		err = s.info(arg)
	case "bt", "where", "backtrace":
		err = s.backtrace()
	case "frame", "f":
		err = s.selectFrame(arg)
	case "up":
		err = s.selectFrame(strconv.Itoa(s.frame + 1))
	case "down":
		err = s.selectFrame(strconv.Itoa(s.frame - 1))
	case "list", "l":
		err = s.list()
	case "disas", "x":
		err = s.disas()
	default:
		err = fmt.Errorf("unknown command %q ('help' lists them)", cmd)
	}
	if err != nil {
		fmt.Fprintf(s.out, "error: %v\n", err)
	}
	return false
}

// resume starts the scenario (the first time) or gives the engine a
// command, then waits for the next stop or the end.
func (s *session) resume(cmd func() error) error {
	switch {
	case s.ended:
		return errors.New("the scenario has ended; quit to leave")
	case !s.started:
		s.start()
	default:
		if err := cmd(); err != nil {
			return err
		}
	}
	s.wait()
	return nil
}

func (s *session) start() {
	s.started = true
	s.done = make(chan struct{})
	go func() {
		s.outcome, s.runErr = s.t.Run(s.e)
		close(s.done)
	}()
}

// wait prints events until the engine stops or the scenario ends; ^C
// pauses.
func (s *session) wait() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	for {
		select {
		case ev := <-s.events:
			if s.show(ev) {
				return
			}
		case <-sig:
			s.e.Pause()
		case <-s.done:
			s.drain()
			s.finished()
			return
		}
	}
}

// drain shows the events left when the scenario ended.
func (s *session) drain() {
	for {
		select {
		case ev := <-s.events:
			s.show(ev)
		default:
			return
		}
	}
}

// show prints an event; it reports whether it was a stop.
func (s *session) show(ev debugger.Event) bool {
	switch ev.Kind {
	case debugger.EventOutput:
		fmt.Fprintln(s.out, ev.Text)
	case debugger.EventBreakpoint:
		if b := ev.Breakpoint; b != nil && b.Verified {
			fmt.Fprintf(s.out, "Breakpoint %s\n", b)
		}
	case debugger.EventStopped:
		s.tid, s.frame = ev.Thread, 0
		s.where(ev)
		return true
	}
	return false
}

// where prints the stop: reason, function, file:line and the line.
func (s *session) where(ev debugger.Event) {
	fs, err := s.e.Stack(s.tid)
	if err != nil || len(fs) == 0 {
		fmt.Fprintf(s.out, "Stopped (%s).\n", ev.Reason)
		return
	}
	f := fs[0]
	why := ev.Reason
	if len(ev.Breakpoints) > 0 {
		why = fmt.Sprintf("breakpoint %d", ev.Breakpoints[0])
	}
	if f.Step != nil {
		fmt.Fprintf(s.out, "Stopped (%s) before step %d at %s:%d: %s\n", why, f.Step.Number, filepath.Base(f.File), f.Line, f.Step.Desc)
		return
	}
	if ev.Text != "" {
		why += ": " + ev.Text
	}
	fmt.Fprintf(s.out, "Stopped (%s) in %s, %s pc %d", why, f.Func, f.Program, f.PC)
	if f.File != "" {
		fmt.Fprintf(s.out, " at %s:%d\n%d\t%s\n", filepath.Base(f.File), f.Line, f.Line, s.sourceLine(f))
	} else {
		fmt.Fprintln(s.out)
	}
}

// sourceLine is the text of the frame's line: from the file when it is
// found, else as BTF recorded it.
func (s *session) sourceLine(f debugger.Frame) string {
	if lines := s.e.SourceLines(f.File); f.Line > 0 && f.Line <= len(lines) {
		return lines[f.Line-1]
	}
	return f.Text
}

func (s *session) finished() {
	s.ended = true
	if s.runErr != nil {
		fmt.Fprintf(s.out, "The scenario could not run: %v\n", s.runErr)
		return
	}
	fmt.Fprint(s.out, s.outcome.Report)
	if s.outcome.Passed {
		fmt.Fprintln(s.out, "The scenario ended: passed.")
	} else {
		fmt.Fprintln(s.out, "The scenario ended: FAILED.")
	}
}

func (s *session) breakCmd(arg string) error {
	spec, err := debugger.ParseBreakSpec(arg)
	if err != nil {
		return err
	}
	if spec.Kind == debugger.BreakLine && spec.File == "" && s.e.Stopped() == 0 {
		return fmt.Errorf("break %d: which file? give FILE:LINE", spec.Line)
	}
	b, err := s.e.AddBreakpoint(spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Breakpoint %s\n", &b)
	return nil
}

func (s *session) deleteCmd(arg string) error {
	if arg == "" {
		for _, b := range s.e.Breakpoints() {
			if err := s.e.DeleteBreakpoint(b.ID); err != nil {
				return err
			}
		}
		return nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil {
		return fmt.Errorf("delete: want a breakpoint number, got %q", arg)
	}
	return s.e.DeleteBreakpoint(n)
}

func (s *session) info(arg string) error {
	switch arg {
	case "registers", "r", "reg", "regs":
		v, err := s.e.Eval(s.tid, s.frame, "regs")
		if err != nil {
			return err
		}
		fmt.Fprintln(s.out, v)
	case "breakpoints", "b", "break":
		bps := s.e.Breakpoints()
		if len(bps) == 0 {
			fmt.Fprintln(s.out, "No breakpoints.")
		}
		for i := range bps {
			fmt.Fprintf(s.out, "%s\n", &bps[i])
		}
	case "threads":
		for _, t := range s.e.Threads() {
			mark := " "
			if t.ID == s.e.Stopped() {
				mark = "*"
			}
			fmt.Fprintf(s.out, "%s %d %s\n", mark, t.ID, t.Name)
		}
	default:
		return fmt.Errorf("info: want registers, breakpoints or threads")
	}
	return nil
}

func (s *session) backtrace() error {
	fs, err := s.e.Stack(s.tid)
	if err != nil {
		return err
	}
	for _, f := range fs {
		mark := " "
		if f.Index == s.frame {
			mark = "*"
		}
		if f.Step != nil {
			fmt.Fprintf(s.out, "%s#0 %s at %s:%d\n", mark, f.Func, filepath.Base(f.File), f.Line)
			continue
		}
		loc := ""
		if f.File != "" {
			loc = fmt.Sprintf(" at %s:%d", filepath.Base(f.File), f.Line)
		}
		cb := ""
		if f.Callback {
			cb = " (called back by a helper)"
		}
		fmt.Fprintf(s.out, "%s#%d %s, %s pc %d%s%s\n", mark, f.Index, f.Func, f.Program, f.PC, loc, cb)
	}
	return nil
}

func (s *session) selectFrame(arg string) error {
	n, err := strconv.Atoi(arg)
	if err != nil {
		return fmt.Errorf("frame: want a frame number, got %q", arg)
	}
	fs, err := s.e.Stack(s.tid)
	if err != nil {
		return err
	}
	if n < 0 || n >= len(fs) {
		return fmt.Errorf("no frame %d (0..%d)", n, len(fs)-1)
	}
	s.frame = n
	f := fs[n]
	fmt.Fprintf(s.out, "#%d %s, %s pc %d", n, f.Func, f.Program, f.PC)
	if f.File != "" {
		fmt.Fprintf(s.out, " at %s:%d", filepath.Base(f.File), f.Line)
	}
	fmt.Fprintln(s.out)
	return nil
}

func (s *session) list() error {
	fs, err := s.e.Stack(s.tid)
	if err != nil {
		return err
	}
	if s.frame >= len(fs) {
		return fmt.Errorf("no frame %d", s.frame)
	}
	f := fs[s.frame]
	if f.File == "" {
		return fmt.Errorf("%s has no source line information (compile with -g)", f.Program)
	}
	lines := s.e.SourceLines(f.File)
	if len(lines) == 0 {
		return fmt.Errorf("cannot read %s", f.File)
	}
	from, to := max(f.Line-5, 1), min(f.Line+5, len(lines))
	for n := from; n <= to; n++ {
		mark := "  "
		if n == f.Line {
			mark = "=>"
		}
		fmt.Fprintf(s.out, "%s %4d  %s\n", mark, n, lines[n-1])
	}
	return nil
}

func (s *session) disas() error {
	fs, err := s.e.Stack(s.tid)
	if err != nil {
		return err
	}
	f := fs[min(s.frame, len(fs)-1)]
	if f.Step != nil {
		return errors.New("stopped between steps: no program is running")
	}
	insns, err := s.e.Disassemble(f.Addr, -3, 10)
	if err != nil {
		return err
	}
	for _, in := range insns {
		if in.Program == "" {
			continue
		}
		if in.Symbol != "" {
			fmt.Fprintf(s.out, "%s:\n", in.Symbol)
		}
		mark := "  "
		if in.PC == f.PC {
			mark = "=>"
		}
		fmt.Fprintf(s.out, "%s %4d: %s\n", mark, in.PC, in.Text)
	}
	return nil
}

// quit lets the scenario finish without the debugger and returns the
// exit status.
func (s *session) quit() int {
	if !s.started {
		return 0
	}
	if !s.ended {
		s.e.Detach()
		d := s.opts.EndTimeout
		if d == 0 {
			d = 30 * time.Second
		}
		select {
		case <-s.done:
			s.drain()
			s.finished()
		case <-time.After(d):
			fmt.Fprintf(s.out, "The scenario did not finish within %s after the debugger let go.\n", d)
			return 2
		}
	}
	switch {
	case s.runErr != nil:
		return 2
	case !s.outcome.Passed:
		return 1
	}
	return 0
}

func completer() readline.AutoCompleter {
	var items []readline.PrefixCompleterInterface
	names := []string{"run", "continue", "next", "step", "nexti", "stepi", "finish", "break", "delete",
		"print", "bt", "frame", "up", "down", "list", "disas", "quit", "help"}
	sort.Strings(names)
	for _, n := range names {
		items = append(items, readline.PcItem(n))
	}
	items = append(items, readline.PcItem("info", readline.PcItem("registers"), readline.PcItem("breakpoints"), readline.PcItem("threads")))
	return readline.NewPrefixCompleter(items...)
}
