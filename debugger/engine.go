package debugger

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/vm"
)

// ScenarioThread is the thread id of the scenario itself: it stops before
// a step (a step breakpoint, a pause between program runs, the entry).
// Program runs get ids from 2 on, a new one per run.
const ScenarioThread = 1

// Stop reasons, as DAP names them.
const (
	ReasonBreakpoint = "breakpoint"
	ReasonFunction   = "function breakpoint"
	ReasonInsn       = "instruction breakpoint"
	ReasonStep       = "step"
	ReasonPause      = "pause"
	ReasonEntry      = "entry"
	// ReasonException: a run failed (a fault, the instruction budget);
	// it is stopped at the failing instruction until resumed.
	ReasonException = "exception"
)

// Granularity of a step: a C source line or one instruction.
type Granularity uint8

const (
	Line Granularity = iota
	Instruction
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	EventStopped EventKind = iota + 1
	EventOutput            // Text: a line for the user (program results, printk)
	// EventBreakpoint: a breakpoint's state changed (verified once its
	// program was loaded).
	EventBreakpoint
)

// Event is something a front end shows.
type Event struct {
	Kind   EventKind
	Thread int
	Reason string
	// Breakpoints are the ids that caused a stop.
	Breakpoints []int
	Text        string
	Breakpoint  *Breakpoint
}

// StepInfo describes a scenario step the runner is about to do.
type StepInfo struct {
	Number int    // 1-based within steps:
	File   string // the scenario file
	Line   int
	Desc   string // "send 11 bytes on a.client"
}

// Config sets an engine up.
type Config struct {
	// Notify receives events. It is called without the engine's lock held,
	// on the goroutine of the program or runner that stopped, before that
	// goroutine blocks; it must not wait for a command to the engine.
	Notify func(Event)
	// SourceRoots are directories to find C sources in (the directories of
	// the scenario and its objects).
	SourceRoots []string
	// Steps are the scenario's steps (for breakpoints on lines of the
	// scenario file), ScenarioFile its path.
	Steps        []StepInfo
	ScenarioFile string
	// Maps gives map contents to print; nil: none.
	Maps MapSource
	// StopOnEntry stops before the first step.
	StopOnEntry bool
	// Declared are the programs the scenario will load, as their object
	// files hold them: breakpoints set before the run are checked against
	// them (and reported verified), then placed once each program is
	// loaded (AddProgram), whose instructions may differ.
	Declared []Declared
}

// Declared is a program of the scenario before it is loaded.
type Declared struct {
	Name  string
	Insns asm.Instructions
}

// MapSource reads the scenario's maps by name.
type MapSource interface {
	// MapNames lists the maps.
	MapNames() []string
	// MapLookup returns the value under key and the map's key and value
	// sizes (key sizes tell how to read a number given as a key).
	MapLookup(name string, key []byte) ([]byte, error)
	MapKeySize(name string) (int, error)
	MapEntries(name string) ([][2][]byte, error)
}

// Engine is the debugger: it is the vm Tracer (and Breaker) of every
// program run of a scenario and the runner's hook between steps, stops
// them where breakpoints and steps say, and answers the front ends'
// questions about the stopped state. All methods are safe for concurrent
// use.
type Engine struct {
	cfg   Config
	clock *PauseClock

	mu       sync.Mutex
	cond     *sync.Cond // broadcast when the stopped thread resumes
	srcs     *sources
	programs []*program
	byVM     map[*vm.Program]*program
	bps      []*Breakpoint
	nextBP   int
	threads  map[*vm.Machine]*thread
	nextTID  int
	scen     *thread // the scenario thread
	stopped  *thread // the thread holding everyone, nil while running
	// pauseReq stops the next instruction or step; stepPending (a step
	// outran the end of its program run) stops the next run's first line
	// or the next step, whichever comes first.
	pauseReq    bool
	stepPending bool
	detached    bool
	// ignoreFaults: a failing run ends without stopping.
	ignoreFaults bool
	started      bool // the first step was seen
	gen          int  // bumped on every resume: variable references die
}

// thread is a program run (one Machine inside Run) or the scenario.
type thread struct {
	id     int
	mach   *vm.Machine
	at     vm.At // where it is (valid while parked or stopped)
	step   *StepInfo
	parked bool
	ctx    uint64 // the run's context pointer (r1 at entry)
	// last line executed at each frame depth, so a line breakpoint stops
	// once when a line is entered, not at each of its instructions
	lastKey   lineKey
	lastFrame int
	mode      stepMode
	resume    chan struct{}
	reason    string
	text      string // what a stop on an exception reports
	bps       []int
}

type stepKind uint8

const (
	stepNone stepKind = iota
	stepInsn
	stepOver
	stepInto
	stepOut
	stepInsnOver // nexti: the next instruction at the same or an outer frame
)

type stepMode struct {
	kind  stepKind
	frame int
	key   lineKey
	prog  *vm.Program
}

// New returns an engine with no breakpoints.
func New(cfg Config) *Engine {
	e := &Engine{cfg: cfg, clock: NewPauseClock(nil), byVM: map[*vm.Program]*program{},
		threads: map[*vm.Machine]*thread{}, nextTID: ScenarioThread + 1, nextBP: 1}
	e.cond = sync.NewCond(&e.mu)
	e.srcs = newSources(cfg.SourceRoots)
	e.scen = &thread{id: ScenarioThread, resume: make(chan struct{}, 1)}
	return e
}

// Clock is the pause-aware clock the scenario's timeouts must use.
func (e *Engine) Clock() *PauseClock { return e.clock }

func (e *Engine) notify(ev Event) {
	if e.cfg.Notify != nil {
		e.cfg.Notify(ev)
	}
}

// AddProgram makes a loaded program known, so breakpoints resolve in it
// before it runs. Programs seen running are added on their own.
func (e *Engine) AddProgram(p *vm.Program) {
	e.mu.Lock()
	_, changed := e.programLocked(p)
	var evs []Event
	if changed {
		evs = e.resolveAllLocked()
	}
	e.mu.Unlock()
	for _, ev := range evs {
		e.notify(ev)
	}
}

func (e *Engine) programLocked(p *vm.Program) (*program, bool) {
	if pr := e.byVM[p]; pr != nil {
		return pr, false
	}
	pr := newProgram(len(e.programs)+1, p)
	e.programs = append(e.programs, pr)
	e.byVM[p] = pr
	return pr, true
}

// Before implements vm.Breaker: it decides whether the instruction about
// to run stops, and blocks while it does (or while another thread is
// stopped: all threads stop together).
func (e *Engine) Before(at *vm.At) {
	e.mu.Lock()
	if e.detached {
		e.mu.Unlock()
		return
	}
	pr, added := e.programLocked(at.Program)
	var evs []Event
	if added {
		evs = e.resolveAllLocked()
	}
	th := e.threads[at.Machine]
	if th == nil || (at.Executed == 0 && at.Frame == 0) {
		th = &thread{id: e.nextTID, mach: at.Machine, resume: make(chan struct{}, 1), lastFrame: -1}
		e.nextTID++
		e.threads[at.Machine] = th
		th.ctx = at.Machine.Regs()[1]
	}
	th.at = *at
	for e.stopped != nil && e.stopped != th && !e.detached {
		th.parked = true
		e.cond.Wait()
	}
	th.parked = false
	if e.detached {
		// Let go while this run was parked.
		e.mu.Unlock()
		for _, ev := range evs {
			e.notify(ev)
		}
		return
	}
	reason, ids := e.shouldStopLocked(th, pr, at)
	_, key := pr.line(at.PC)
	th.lastKey, th.lastFrame = key, at.Frame
	if reason != "" {
		e.stopLocked(th, reason, ids)
	}
	e.mu.Unlock()
	for _, ev := range evs {
		e.notify(ev)
	}
	if reason != "" {
		e.wait(th)
	}
}

// shouldStopLocked decides whether th stops at at.
func (e *Engine) shouldStopLocked(th *thread, pr *program, at *vm.At) (string, []int) {
	_, key := pr.line(at.PC)
	if e.pauseReq {
		e.pauseReq = false
		return ReasonPause, nil
	}
	if e.stepPending && at.Executed == 0 && at.Frame == 0 {
		e.stepPending = false
		th.mode = stepMode{kind: stepInto, frame: -1}
		if !key.valid() {
			th.mode = stepMode{kind: stepInsn} // no line info: its first instruction
		}
	}
	m := th.mode
	switch m.kind {
	case stepInsn:
		return ReasonStep, nil
	case stepInto:
		if key.valid() && pr.stmt[at.PC] && (key != m.key || at.Frame != m.frame || at.Program != m.prog) {
			return ReasonStep, nil
		}
	case stepOver:
		if at.Frame < m.frame && key.valid() {
			return ReasonStep, nil
		}
		if at.Frame == m.frame && key.valid() && pr.stmt[at.PC] && (key != m.key || at.Program != m.prog) {
			return ReasonStep, nil
		}
	case stepOut:
		if at.Frame < m.frame {
			return ReasonStep, nil
		}
	case stepInsnOver:
		if at.Frame <= m.frame {
			return ReasonStep, nil
		}
	}
	var ids []int
	reason := ""
	entering := key != th.lastKey || at.Frame != th.lastFrame
	for _, b := range e.bps {
		if !b.Verified || b.Spec.Kind == BreakStep {
			continue
		}
		hit := false
		for _, l := range b.locs {
			if l.prog == pr && l.pc == at.PC {
				hit = b.Spec.Kind != BreakLine || entering
				break
			}
		}
		if !hit || !e.condHolds(b, th, pr) {
			continue
		}
		b.Hits++
		ids = append(ids, b.ID)
		if reason == "" {
			switch b.Spec.Kind {
			case BreakLine:
				reason = ReasonBreakpoint
			case BreakFunction:
				reason = ReasonFunction
			case BreakInsn:
				reason = ReasonInsn
			}
		}
	}
	return reason, ids
}

// condHolds evaluates a breakpoint's condition on th; a condition that
// cannot be evaluated stops (and says why), as a debugger must not hide
// a breakpoint behind a typo.
func (e *Engine) condHolds(b *Breakpoint, th *thread, pr *program) bool {
	if b.cond == nil {
		return true
	}
	v, err := b.cond.eval(&frameEnv{e: e, th: th, frame: 0})
	if err != nil {
		b.Message = fmt.Sprintf("condition %q: %v", b.Spec.Cond, err)
		return true
	}
	return v != 0
}

// stopLocked makes th the stopped thread: every other thread parks at
// its next instruction, the pause clock stops, and any step in progress
// ends.
func (e *Engine) stopLocked(th *thread, reason string, ids []int) {
	e.stopped = th
	th.reason, th.bps, th.text = reason, ids, ""
	for _, o := range e.threads {
		o.mode = stepMode{}
	}
	e.scen.mode = stepMode{}
	e.stepPending = false
	e.clock.Pause()
}

// wait reports th's stop and blocks until a command resumes it. Called
// without e.mu.
func (e *Engine) wait(th *thread) {
	e.notify(Event{Kind: EventStopped, Thread: th.id, Reason: th.reason, Breakpoints: th.bps, Text: th.text})
	<-th.resume
}

// Done implements vm.Breaker: a run ended. A step still in progress goes
// on into the next program run or scenario step.
func (e *Engine) Done(m *vm.Machine, r0 uint64, err error) {
	e.mu.Lock()
	th := e.threads[m]
	if th == nil {
		e.mu.Unlock()
		return
	}
	name := th.at.Program.Name
	text := fmt.Sprintf("%s returned %d", name, r0)
	if err != nil {
		text = fmt.Sprintf("%s: run stopped: %v", name, err)
	}
	// A run that failed (a fault, the instruction budget) stops where it
	// failed, as a debugger stops on an exception: the machine still
	// holds the state of the failing instruction.
	stop := err != nil && !e.detached && !e.ignoreFaults
	if stop {
		for e.stopped != nil && !e.detached {
			e.cond.Wait()
		}
		stop = !e.detached
	}
	if stop {
		if cs := m.CallStack(); len(cs) > 0 {
			th.at.Program, th.at.PC, th.at.Frame = cs[0].Program, cs[0].PC, len(cs)-1
		}
		e.stopLocked(th, ReasonException, nil)
		th.text = err.Error()
	} else if th.mode.kind != stepNone {
		e.stepPending = true
	}
	e.mu.Unlock()
	e.notify(Event{Kind: EventOutput, Thread: th.id, Text: text})
	if stop {
		e.wait(th)
	}
	e.mu.Lock()
	if th.mode.kind != stepNone {
		e.stepPending = true // a step from the failed instruction goes on
	}
	delete(e.threads, m)
	e.mu.Unlock()
}

// Printk shows a line a program printed (bpf_printk) as it is printed.
func (e *Engine) Printk(line string) {
	e.notify(Event{Kind: EventOutput, Text: "bpf_printk: " + line})
}

// Step implements vm.Tracer; the engine needs only Before.
func (e *Engine) Step(*vm.Step) {}

// Helper implements vm.Tracer.
func (e *Engine) Helper(*vm.HelperCall) {}

// BeforeStep is the runner's hook: it stops before step s when a
// breakpoint, a pending step or pause says so.
func (e *Engine) BeforeStep(s StepInfo) {
	e.mu.Lock()
	for e.stopped != nil && !e.detached {
		e.cond.Wait()
	}
	if e.detached {
		e.mu.Unlock()
		return
	}
	first := !e.started
	e.started = true
	e.scen.step = &s
	reason := ""
	var ids []int
	switch {
	case first && e.cfg.StopOnEntry:
		reason = ReasonEntry
	case e.pauseReq:
		e.pauseReq = false
		reason = ReasonPause
	case e.stepPending || e.scen.mode.kind != stepNone:
		reason = ReasonStep
	}
	for _, b := range e.bps {
		if b.Verified && b.Spec.Kind == BreakStep && b.Spec.Step == s.Number {
			b.Hits++
			ids = append(ids, b.ID)
			if reason == "" {
				reason = ReasonBreakpoint
			}
		}
	}
	if reason != "" {
		e.stopLocked(e.scen, reason, ids)
	}
	e.mu.Unlock()
	if reason != "" {
		e.wait(e.scen)
	}
	e.mu.Lock()
	e.scen.step = nil
	e.mu.Unlock()
}

// errRunning is returned by commands that need a stopped thread.
var errRunning = errors.New("nothing is stopped (set a breakpoint, or pause)")

// resumeLocked lets the stopped thread go with mode.
func (e *Engine) resumeLocked(mode stepMode) error {
	th := e.stopped
	if th == nil {
		return errRunning
	}
	th.mode = mode
	e.stopped = nil
	e.gen++
	e.clock.Resume()
	th.resume <- struct{}{}
	e.cond.Broadcast()
	return nil
}

// Continue resumes until the next breakpoint.
func (e *Engine) Continue() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resumeLocked(stepMode{})
}

// StepOver runs to the next line (or instruction) of the current
// function, over calls; StepIn goes into calls; StepOut runs until the
// current function returns. From the scenario thread, StepOver runs to
// the next step and StepIn stops at the first program line run before it.
func (e *Engine) StepOver(g Granularity) error { return e.stepCmd(stepOver, g) }

// StepIn: see StepOver.
func (e *Engine) StepIn(g Granularity) error { return e.stepCmd(stepInto, g) }

// StepOut: see StepOver.
func (e *Engine) StepOut() error { return e.stepCmd(stepOut, Line) }

func (e *Engine) stepCmd(k stepKind, g Granularity) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	th := e.stopped
	if th == nil {
		return errRunning
	}
	if th == e.scen {
		switch k {
		case stepInto:
			e.stepPending = true // the first program run, or the next step
		case stepOver:
			return e.resumeLocked(stepMode{kind: stepOver})
		}
		return e.resumeLocked(stepMode{})
	}
	at := th.at
	pr := e.byVM[at.Program]
	_, key := pr.line(at.PC)
	mode := stepMode{kind: k, frame: at.Frame, key: key, prog: at.Program}
	switch {
	case g == Instruction && k == stepInto:
		mode = stepMode{kind: stepInsn}
	case g == Instruction && k == stepOver:
		// One instruction, but a call it makes runs to its return.
		mode = stepMode{kind: stepInsnOver, frame: at.Frame}
	case !key.valid() && k != stepOut:
		mode = stepMode{kind: stepInsn} // no line info: a line is an instruction
	}
	return e.resumeLocked(mode)
}

// StopOnFault says whether a run that fails (a fault, the instruction
// budget) stops at the failing instruction; it does by default.
func (e *Engine) StopOnFault(on bool) {
	e.mu.Lock()
	e.ignoreFaults = !on
	e.mu.Unlock()
}

// Pause stops at the next instruction of any program, or before the next
// step.
func (e *Engine) Pause() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped == nil {
		e.pauseReq = true
	}
}

// Detach removes every breakpoint and lets everything run to the end:
// the front end went away.
func (e *Engine) Detach() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.detached = true
	e.pauseReq, e.stepPending = false, false
	if th := e.stopped; th != nil {
		e.stopped = nil
		e.gen++
		e.clock.Resume()
		th.resume <- struct{}{}
	}
	e.cond.Broadcast()
}

// Stopped returns the stopped thread's id, or 0 while running.
func (e *Engine) Stopped() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped == nil {
		return 0
	}
	return e.stopped.id
}

// ThreadInfo names a thread.
type ThreadInfo struct {
	ID   int
	Name string
}

// Threads lists the scenario thread and the program runs in progress.
func (e *Engine) Threads() []ThreadInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []ThreadInfo{{ID: ScenarioThread, Name: "scenario"}}
	for _, th := range e.threads {
		name := fmt.Sprintf("%s run %d", th.at.Program.Name, th.id)
		out = append(out, ThreadInfo{ID: th.id, Name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (e *Engine) threadLocked(id int) (*thread, error) {
	if id == ScenarioThread || id == 0 && e.stopped == e.scen {
		if e.stopped != e.scen {
			return nil, fmt.Errorf("the scenario is not stopped between steps")
		}
		return e.scen, nil
	}
	if id == 0 && e.stopped != nil {
		return e.stopped, nil
	}
	for _, th := range e.threads {
		if th.id == id {
			if th != e.stopped && !th.parked {
				return nil, fmt.Errorf("thread %d is running", id)
			}
			return th, nil
		}
	}
	if e.stopped == nil {
		return nil, errRunning
	}
	return nil, fmt.Errorf("no thread %d", id)
}

// Frame is one entry of a stack trace.
type Frame struct {
	Index    int // 0 innermost
	Program  string
	Func     string
	PC       int
	Addr     uint64 // instruction address (see InsnAddr)
	File     string // resolved path, or the name BTF records when not found
	Line     int
	Column   int
	Text     string // the source line as BTF records it
	Callback bool
	// Step is set for the scenario thread's frame.
	Step *StepInfo
}

// InsnAddr is the address the engine gives slot pc of the program with
// engine id id: disassembly views and instruction breakpoints use it.
func InsnAddr(id, pc int) uint64 { return uint64(id)<<32 | uint64(pc)*asm.InstructionSize }

// Stack returns the frames of a stopped (or parked) thread, innermost
// first.
func (e *Engine) Stack(tid int) ([]Frame, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	th, err := e.threadLocked(tid)
	if err != nil {
		return nil, err
	}
	if th == e.scen {
		s := th.step
		f := Frame{Func: "step", Step: s}
		if s != nil {
			f.Func = fmt.Sprintf("step %d: %s", s.Number, s.Desc)
			f.File, f.Line = s.File, s.Line
		}
		return []Frame{f}, nil
	}
	var out []Frame
	for i, cf := range th.mach.CallStack() {
		pr, _ := e.programLocked(cf.Program)
		f := Frame{Index: i, Program: pr.name, Func: pr.function(cf.PC).name, PC: cf.PC,
			Addr: InsnAddr(pr.id, cf.PC), Callback: cf.Callback}
		if l, key := pr.line(cf.PC); l != nil {
			f.File = key.file
			if p := e.srcs.path(key.file); p != "" {
				f.File = p
			}
			f.Line, f.Column, f.Text = key.line, int(l.LineColumn()), l.Line()
		}
		out = append(out, f)
	}
	return out, nil
}

// Location describes where a thread is, for the terminal.
func (e *Engine) Location(tid int) (Frame, string, error) {
	fs, err := e.Stack(tid)
	if err != nil {
		return Frame{}, "", err
	}
	e.mu.Lock()
	th, _ := e.threadLocked(tid)
	reason := ""
	if th != nil {
		reason = th.reason
	}
	e.mu.Unlock()
	return fs[0], reason, nil
}

// SourceLines returns the lines of a resolved source file (nil when it
// cannot be read).
func (e *Engine) SourceLines(path string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srcs.lines(path)
}

// Programs lists the programs the engine knows, by name.
func (e *Engine) Programs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, p := range e.programs {
		out = append(out, p.name)
	}
	return out
}

// scenarioFile reports whether a client's path names the scenario file.
func (e *Engine) scenarioFile(path string) bool {
	if e.cfg.ScenarioFile == "" || path == "" {
		return false
	}
	a, err1 := filepath.Abs(path)
	b, err2 := filepath.Abs(e.cfg.ScenarioFile)
	return err1 == nil && err2 == nil && a == b
}

// ProgramAt resolves an instruction address (InsnAddr) to its program
// and slot.
func (e *Engine) ProgramAt(addr uint64) (string, int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := int(addr >> 32)
	if id < 1 || id > len(e.programs) || uint32(addr)%asm.InstructionSize != 0 {
		return "", 0, fmt.Errorf("address %#x names no instruction of a loaded program", addr)
	}
	return e.programs[id-1].name, int(uint32(addr) / asm.InstructionSize), nil
}

// Now is the engine's pause clock's time: wall time that stands still
// while anything is stopped. The scenario's deadlines use it.
func (e *Engine) Now() time.Time { return e.clock.Now() }

// WithTimeout is context.WithTimeout measured on the engine's pause
// clock: time spent stopped does not count. A backend's waits (for idle,
// for a handshake) use it.
func (e *Engine) WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return e.clock.WithTimeout(parent, d)
}
