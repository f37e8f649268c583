// Package dap serves the debugger over the Debug Adapter Protocol, for VS
// Code, nvim-dap and any other DAP client: one session per connection
// (stdin/stdout or a TCP connection), one scenario per session.
//
// Threads: thread 1 is the scenario (it stops between steps); every
// program run is a thread of its own while it runs. Instruction addresses
// (instructionPointerReference, disassembly) are the engine's: program id
// in the upper 32 bits, byte offset of the instruction in the lower.
package dap

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	godap "github.com/google/go-dap"

	"github.com/skmsg/skmsg/debugger"
)

// Server answers DAP requests.
type Server struct {
	// Open prepares a scenario file.
	Open debugger.Opener
	// File is the scenario given on the command line: a launch request
	// with no "scenario" runs it.
	File string
	// EndTimeout bounds how long a disconnect waits for the scenario to
	// finish once the debugger let go of it; 0 means 30s.
	EndTimeout time.Duration
}

// launchArgs are the launch request's arguments.
type launchArgs struct {
	Scenario    string `json:"scenario"`
	StopOnEntry bool   `json:"stopOnEntry"`
	// Cwd resolves a relative scenario path (editors start adapters in
	// a directory of their choosing).
	Cwd string `json:"cwd"`
	// NoDebug is "run without debugging": the scenario runs with no
	// stop at all.
	NoDebug bool `json:"noDebug"`
}

// session is one client.
type session struct {
	srv *Server
	w   io.Writer

	wmu sync.Mutex // one message at a time; also orders responses before events
	seq int

	mu      sync.Mutex
	target  debugger.Target
	engine  *debugger.Engine
	file    string
	started bool
	done    chan struct{} // closed when the scenario ended
	outcome debugger.Outcome
	runErr  error
	vars    map[int][]debugger.Var
	lazy    map[int]func() []debugger.Var // scopes read when opened
	nextRef int
}

// Serve runs one session on r and w until the client disconnects or r
// ends.
func (s *Server) Serve(r io.Reader, w io.Writer) error {
	ss := &session{srv: s, w: w, vars: map[int][]debugger.Var{}, lazy: map[int]func() []debugger.Var{}, nextRef: 1}
	br := bufio.NewReader(r)
	defer ss.detach()
	for {
		content, err := godap.ReadBaseMessage(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("dap: reading a message: %w", err)
		}
		msg, err := godap.DecodeProtocolMessage(content)
		if err != nil {
			// The framing held: answer what can be answered and go on.
			var fe *godap.DecodeProtocolMessageFieldError
			if errors.As(err, &fe) {
				ss.send(&godap.ErrorResponse{Response: ss.response(fe.Seq, fe.FieldValue, false, err.Error())})
			} else {
				ss.send(&godap.OutputEvent{Event: event("output"), Body: godap.OutputEventBody{Category: "stderr",
					Output: fmt.Sprintf("skmsg debug adapter: ignoring a message that is not DAP: %v\n", err)}})
			}
			continue
		}
		req, ok := msg.(godap.RequestMessage)
		if !ok {
			continue // responses to reverse requests, events: none expected
		}
		if stop := ss.handle(req); stop {
			return nil
		}
	}
}

// send writes one message with the next sequence number.
func (ss *session) send(m godap.Message) {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	ss.sendLocked(m)
}

func (ss *session) sendLocked(m godap.Message) {
	ss.seq++
	switch v := m.(type) {
	case godap.ResponseMessage:
		v.GetResponse().Seq = ss.seq
	case godap.EventMessage:
		v.GetEvent().Seq = ss.seq
	}
	// A client that went away shows as a read error on the next request.
	_ = godap.WriteProtocolMessage(ss.w, m)
}

func (ss *session) response(reqSeq int, command string, ok bool, msg string) godap.Response {
	return godap.Response{ProtocolMessage: godap.ProtocolMessage{Type: "response"}, Command: command,
		RequestSeq: reqSeq, Success: ok, Message: msg}
}

func (ss *session) ok(req godap.RequestMessage) godap.Response {
	r := req.GetRequest()
	return ss.response(r.Seq, r.Command, true, "")
}

func (ss *session) fail(req godap.RequestMessage, err error) {
	r := req.GetRequest()
	resp := &godap.ErrorResponse{Response: ss.response(r.Seq, r.Command, false, err.Error())}
	resp.Body.Error = &godap.ErrorMessage{Id: 1, Format: err.Error(), ShowUser: true}
	ss.send(resp)
}

func event(name string) godap.Event {
	return godap.Event{ProtocolMessage: godap.ProtocolMessage{Type: "event"}, Event: name}
}

var errNotLaunched = errors.New("no scenario launched yet")

// faultsFilter is the exception filter of failing runs.
const faultsFilter = "faults"

// handle answers one request; it reports whether the session ends.
func (ss *session) handle(req godap.RequestMessage) bool {
	switch r := req.(type) {
	case *godap.InitializeRequest:
		ss.send(&godap.InitializeResponse{Response: ss.ok(r), Body: godap.Capabilities{
			SupportsConfigurationDoneRequest: true,
			SupportsFunctionBreakpoints:      true,
			SupportsConditionalBreakpoints:   true,
			SupportsEvaluateForHovers:        true,
			SupportsDisassembleRequest:       true,
			SupportsSteppingGranularity:      true,
			SupportsInstructionBreakpoints:   true,
			SupportsTerminateRequest:         true,
			ExceptionBreakpointFilters: []godap.ExceptionBreakpointsFilter{{
				Filter: faultsFilter, Label: "Program faults",
				Description: "Stop where a program run fails: a memory fault, the instruction budget, a helper error",
				Default:     true,
			}},
		}})
	case *godap.LaunchRequest:
		ss.launch(r)
	case *godap.SetBreakpointsRequest:
		ss.setBreakpoints(r)
	case *godap.SetFunctionBreakpointsRequest:
		ss.setFunctionBreakpoints(r)
	case *godap.SetInstructionBreakpointsRequest:
		ss.setInstructionBreakpoints(r)
	case *godap.SetExceptionBreakpointsRequest:
		e := ss.eng()
		if e == nil {
			ss.fail(r, errNotLaunched)
			break
		}
		on := false
		for _, f := range r.Arguments.Filters {
			on = on || f == faultsFilter
		}
		e.StopOnFault(on)
		ss.send(&godap.SetExceptionBreakpointsResponse{Response: ss.ok(r)})
	case *godap.ConfigurationDoneRequest:
		ss.configurationDone(r)
	case *godap.ThreadsRequest:
		ss.threads(r)
	case *godap.StackTraceRequest:
		ss.stackTrace(r)
	case *godap.ScopesRequest:
		ss.scopes(r)
	case *godap.VariablesRequest:
		ss.variables(r)
	case *godap.ContinueRequest:
		ss.command(r, func(e *debugger.Engine) error { return e.Continue() }, func(resp godap.Response) godap.Message {
			return &godap.ContinueResponse{Response: resp, Body: godap.ContinueResponseBody{AllThreadsContinued: true}}
		})
	case *godap.NextRequest:
		g := granularity(r.Arguments.Granularity)
		ss.command(r, func(e *debugger.Engine) error { return e.StepOver(g) }, func(resp godap.Response) godap.Message {
			return &godap.NextResponse{Response: resp}
		})
	case *godap.StepInRequest:
		g := granularity(r.Arguments.Granularity)
		ss.command(r, func(e *debugger.Engine) error { return e.StepIn(g) }, func(resp godap.Response) godap.Message {
			return &godap.StepInResponse{Response: resp}
		})
	case *godap.StepOutRequest:
		ss.command(r, func(e *debugger.Engine) error { return e.StepOut() }, func(resp godap.Response) godap.Message {
			return &godap.StepOutResponse{Response: resp}
		})
	case *godap.PauseRequest:
		ss.command(r, func(e *debugger.Engine) error { e.Pause(); return nil }, func(resp godap.Response) godap.Message {
			return &godap.PauseResponse{Response: resp}
		})
	case *godap.DisassembleRequest:
		ss.disassemble(r)
	case *godap.EvaluateRequest:
		ss.evaluate(r)
	case *godap.TerminateRequest:
		ss.detach()
		ss.send(&godap.TerminateResponse{Response: ss.ok(r)})
	case *godap.DisconnectRequest:
		ss.detach()
		ss.send(&godap.DisconnectResponse{Response: ss.ok(r)})
		return true
	default:
		ss.fail(req, fmt.Errorf("%s is not supported", req.GetRequest().Command))
	}
	return false
}

func granularity(g godap.SteppingGranularity) debugger.Granularity {
	if g == "instruction" {
		return debugger.Instruction
	}
	return debugger.Line
}

func (ss *session) eng() *debugger.Engine {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.engine
}

func (ss *session) launch(r *godap.LaunchRequest) {
	var args launchArgs
	if len(r.Arguments) > 0 {
		if err := json.Unmarshal(r.Arguments, &args); err != nil {
			ss.fail(r, fmt.Errorf("launch arguments: %w", err))
			return
		}
	}
	file := ss.srv.File
	if args.Scenario != "" && args.Cwd != "" && !filepath.IsAbs(args.Scenario) {
		args.Scenario = filepath.Join(args.Cwd, args.Scenario)
	}
	if args.Scenario != "" {
		if file != "" && filepath.Clean(file) != filepath.Clean(args.Scenario) {
			ss.fail(r, fmt.Errorf("launch names %s, but the adapter was started for %s", args.Scenario, file))
			return
		}
		file = args.Scenario
	}
	if file == "" {
		ss.fail(r, errors.New(`no scenario: start the adapter with FILE.yaml or launch with {"scenario": PATH}`))
		return
	}
	ss.mu.Lock()
	if ss.engine != nil {
		ss.mu.Unlock()
		ss.fail(r, errors.New("a scenario is already launched in this session"))
		return
	}
	ss.mu.Unlock()
	t, err := ss.srv.Open(file)
	if err != nil {
		ss.fail(r, err)
		return
	}
	cfg := t.Config()
	cfg.Notify = ss.notify
	cfg.StopOnEntry = args.StopOnEntry
	e := debugger.New(cfg)
	if args.NoDebug {
		e.Detach()
	}
	ss.mu.Lock()
	ss.target, ss.engine, ss.file = t, e, file
	ss.mu.Unlock()
	ss.send(&godap.LaunchResponse{Response: ss.ok(r)})
	ss.send(&godap.InitializedEvent{Event: event("initialized")})
}

// notify turns engine events into DAP events.
func (ss *session) notify(ev debugger.Event) {
	switch ev.Kind {
	case debugger.EventStopped:
		ss.resetVars()
		ss.send(&godap.StoppedEvent{Event: event("stopped"), Body: godap.StoppedEventBody{
			Reason: ev.Reason, ThreadId: ev.Thread, AllThreadsStopped: true, HitBreakpointIds: ev.Breakpoints,
			Description: ev.Text, Text: ev.Text,
		}})
	case debugger.EventOutput:
		ss.send(&godap.OutputEvent{Event: event("output"), Body: godap.OutputEventBody{Category: "console", Output: ev.Text + "\n"}})
	case debugger.EventBreakpoint:
		if ev.Breakpoint != nil {
			ss.send(&godap.BreakpointEvent{Event: event("breakpoint"), Body: godap.BreakpointEventBody{
				Reason: "changed", Breakpoint: toBreakpoint(*ev.Breakpoint)}})
		}
	}
}

func toBreakpoint(b debugger.Breakpoint) godap.Breakpoint {
	out := godap.Breakpoint{Id: b.ID, Verified: b.Verified, Message: b.Message, Line: b.Line}
	if b.File != "" {
		out.Source = &godap.Source{Name: filepath.Base(b.File), Path: b.File}
	}
	if !b.Verified {
		out.Line = b.Spec.Line
	}
	return out
}

func (ss *session) setBreakpoints(r *godap.SetBreakpointsRequest) {
	e := ss.eng()
	if e == nil {
		ss.fail(r, errNotLaunched)
		return
	}
	var specs []debugger.BreakSpec
	for _, b := range r.Arguments.Breakpoints {
		specs = append(specs, debugger.BreakSpec{Line: b.Line, Cond: b.Condition})
	}
	path := r.Arguments.Source.Path
	if path == "" {
		path = r.Arguments.Source.Name
	}
	bps := e.SetBreakpoints(debugger.BreakLine, path, specs)
	resp := &godap.SetBreakpointsResponse{Response: ss.ok(r)}
	resp.Body.Breakpoints = make([]godap.Breakpoint, 0, len(bps))
	for _, b := range bps {
		bp := toBreakpoint(b)
		if bp.Source == nil {
			bp.Source = &r.Arguments.Source
		}
		resp.Body.Breakpoints = append(resp.Body.Breakpoints, bp)
	}
	ss.send(resp)
}

func (ss *session) setFunctionBreakpoints(r *godap.SetFunctionBreakpointsRequest) {
	e := ss.eng()
	if e == nil {
		ss.fail(r, errNotLaunched)
		return
	}
	var specs []debugger.BreakSpec
	for _, b := range r.Arguments.Breakpoints {
		specs = append(specs, debugger.BreakSpec{Func: b.Name, Cond: b.Condition})
	}
	bps := e.SetBreakpoints(debugger.BreakFunction, "", specs)
	resp := &godap.SetFunctionBreakpointsResponse{Response: ss.ok(r)}
	resp.Body.Breakpoints = make([]godap.Breakpoint, 0, len(bps))
	for _, b := range bps {
		resp.Body.Breakpoints = append(resp.Body.Breakpoints, toBreakpoint(b))
	}
	ss.send(resp)
}

func (ss *session) setInstructionBreakpoints(r *godap.SetInstructionBreakpointsRequest) {
	e := ss.eng()
	if e == nil {
		ss.fail(r, errNotLaunched)
		return
	}
	specs := make([]debugger.BreakSpec, 0, len(r.Arguments.Breakpoints))
	var bad []error
	for _, b := range r.Arguments.Breakpoints {
		addr, err := strconv.ParseUint(b.InstructionReference, 0, 64)
		var prog string
		var pc int
		if err == nil {
			prog, pc, err = e.ProgramAt(addr + uint64(b.Offset))
		}
		bad = append(bad, err)
		specs = append(specs, debugger.BreakSpec{Program: prog, PC: pc, Cond: b.Condition})
	}
	bps := e.SetBreakpoints(debugger.BreakInsn, "", specs)
	resp := &godap.SetInstructionBreakpointsResponse{Response: ss.ok(r)}
	resp.Body.Breakpoints = make([]godap.Breakpoint, 0, len(bps))
	for i, b := range bps {
		bp := toBreakpoint(b)
		if bad[i] != nil {
			bp.Verified, bp.Message = false, bad[i].Error()
		}
		bp.InstructionReference = r.Arguments.Breakpoints[i].InstructionReference
		bp.Offset = r.Arguments.Breakpoints[i].Offset
		resp.Body.Breakpoints = append(resp.Body.Breakpoints, bp)
	}
	ss.send(resp)
}

// configurationDone starts the scenario.
func (ss *session) configurationDone(r *godap.ConfigurationDoneRequest) {
	ss.mu.Lock()
	e, t := ss.engine, ss.target
	if e == nil {
		ss.mu.Unlock()
		ss.fail(r, errNotLaunched)
		return
	}
	if ss.started {
		ss.mu.Unlock()
		ss.send(&godap.ConfigurationDoneResponse{Response: ss.ok(r)})
		return
	}
	ss.started = true
	ss.done = make(chan struct{})
	done := ss.done
	ss.mu.Unlock()
	ss.send(&godap.ConfigurationDoneResponse{Response: ss.ok(r)})
	go func() {
		out, err := t.Run(e)
		ss.mu.Lock()
		ss.outcome, ss.runErr = out, err
		ss.mu.Unlock()
		code := 0
		switch {
		case err != nil:
			ss.send(&godap.OutputEvent{Event: event("output"), Body: godap.OutputEventBody{Category: "stderr", Output: err.Error() + "\n"}})
			code = 2
		default:
			ss.send(&godap.OutputEvent{Event: event("output"), Body: godap.OutputEventBody{Category: "stdout", Output: out.Report}})
			if !out.Passed {
				code = 1
			}
		}
		ss.send(&godap.ExitedEvent{Event: event("exited"), Body: godap.ExitedEventBody{ExitCode: code}})
		ss.send(&godap.TerminatedEvent{Event: event("terminated")})
		close(done)
	}()
}

func (ss *session) threads(r *godap.ThreadsRequest) {
	resp := &godap.ThreadsResponse{Response: ss.ok(r)}
	resp.Body.Threads = []godap.Thread{{Id: debugger.ScenarioThread, Name: "scenario"}}
	if e := ss.eng(); e != nil {
		resp.Body.Threads = resp.Body.Threads[:0]
		for _, t := range e.Threads() {
			resp.Body.Threads = append(resp.Body.Threads, godap.Thread{Id: t.ID, Name: t.Name})
		}
	}
	ss.send(resp)
}

// Frame ids carry the thread and the frame index.
func frameID(tid, index int) int { return tid<<4 | index }
func splitFrameID(id int) (int, int) {
	return id >> 4, id & 15
}

func (ss *session) stackTrace(r *godap.StackTraceRequest) {
	e := ss.eng()
	if e == nil {
		ss.fail(r, errNotLaunched)
		return
	}
	fs, err := e.Stack(r.Arguments.ThreadId)
	if err != nil {
		ss.fail(r, err)
		return
	}
	resp := &godap.StackTraceResponse{Response: ss.ok(r)}
	for _, f := range fs {
		sf := godap.StackFrame{Id: frameID(r.Arguments.ThreadId, f.Index), Name: f.Func, Line: f.Line, Column: max(f.Column, 1)}
		if f.Step == nil {
			sf.Name = fmt.Sprintf("%s (%s pc %d)", f.Func, f.Program, f.PC)
			sf.InstructionPointerReference = fmt.Sprintf("%#x", f.Addr)
		}
		if f.File != "" {
			sf.Source = &godap.Source{Name: filepath.Base(f.File), Path: f.File}
		} else {
			sf.PresentationHint = "subtle"
		}
		resp.Body.StackFrames = append(resp.Body.StackFrames, sf)
	}
	resp.Body.TotalFrames = len(fs)
	ss.send(resp)
}

// resetVars drops the variable references of the last stop.
func (ss *session) resetVars() {
	ss.mu.Lock()
	ss.vars = map[int][]debugger.Var{}
	ss.lazy = map[int]func() []debugger.Var{}
	ss.mu.Unlock()
}

// refLazy files a scope read when it is opened.
func (ss *session) refLazy(load func() []debugger.Var) int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	id := ss.nextRef
	ss.nextRef++
	ss.lazy[id] = load
	return id
}

// ref files vars under a new reference.
func (ss *session) ref(vars []debugger.Var) int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	id := ss.nextRef
	ss.nextRef++
	ss.vars[id] = vars
	return id
}

func (ss *session) scopes(r *godap.ScopesRequest) {
	e := ss.eng()
	if e == nil {
		ss.fail(r, errNotLaunched)
		return
	}
	tid, idx := splitFrameID(r.Arguments.FrameId)
	scopes, err := e.Scopes(tid, idx)
	if err != nil {
		ss.fail(r, err)
		return
	}
	resp := &godap.ScopesResponse{Response: ss.ok(r)}
	for _, s := range scopes {
		hint := ""
		if s.Name == "Registers" {
			hint = "registers"
		}
		sc := godap.Scope{Name: s.Name, PresentationHint: hint, Expensive: s.Expensive}
		if s.Load != nil {
			sc.VariablesReference = ss.refLazy(s.Load)
		} else {
			sc.VariablesReference, sc.NamedVariables = ss.ref(s.Vars), len(s.Vars)
		}
		resp.Body.Scopes = append(resp.Body.Scopes, sc)
	}
	ss.send(resp)
}

func (ss *session) variables(r *godap.VariablesRequest) {
	ss.mu.Lock()
	ref := r.Arguments.VariablesReference
	vars, ok := ss.vars[ref]
	load := ss.lazy[ref]
	ss.mu.Unlock()
	if !ok && load != nil {
		vars, ok = load(), true
		ss.mu.Lock()
		if _, live := ss.lazy[ref]; live { // not dropped by a resume meanwhile
			ss.vars[ref] = vars
		}
		ss.mu.Unlock()
	}
	if !ok {
		ss.fail(r, fmt.Errorf("variables reference %d is not valid (any more)", r.Arguments.VariablesReference))
		return
	}
	resp := &godap.VariablesResponse{Response: ss.ok(r)}
	resp.Body.Variables = make([]godap.Variable, 0, len(vars))
	for _, v := range vars {
		dv := godap.Variable{Name: v.Name, Value: v.Value, Type: v.Type}
		if len(v.Kids) > 0 {
			dv.VariablesReference = ss.ref(v.Kids)
			dv.NamedVariables = len(v.Kids)
		}
		resp.Body.Variables = append(resp.Body.Variables, dv)
	}
	ss.send(resp)
}

// command runs an execution command and answers it before any event the
// resumed run sends: the write lock is held across both.
func (ss *session) command(req godap.RequestMessage, do func(*debugger.Engine) error, resp func(godap.Response) godap.Message) {
	e := ss.eng()
	if e == nil {
		ss.fail(req, errNotLaunched)
		return
	}
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if err := do(e); err != nil {
		r := req.GetRequest()
		ss.sendLocked(&godap.ErrorResponse{Response: ss.response(r.Seq, r.Command, false, err.Error())})
		return
	}
	ss.resetVars()
	ss.sendLocked(resp(ss.ok(req)))
}

func (ss *session) disassemble(r *godap.DisassembleRequest) {
	e := ss.eng()
	if e == nil {
		ss.fail(r, errNotLaunched)
		return
	}
	addr, err := strconv.ParseUint(r.Arguments.MemoryReference, 0, 64)
	if err != nil {
		ss.fail(r, fmt.Errorf("memory reference %q: %w", r.Arguments.MemoryReference, err))
		return
	}
	insns, err := e.Disassemble(addr+uint64(r.Arguments.Offset), r.Arguments.InstructionOffset, r.Arguments.InstructionCount)
	if err != nil {
		ss.fail(r, err)
		return
	}
	resp := &godap.DisassembleResponse{Response: ss.ok(r)}
	resp.Body.Instructions = make([]godap.DisassembledInstruction, 0, len(insns))
	for _, in := range insns {
		di := godap.DisassembledInstruction{Address: fmt.Sprintf("%#x", in.Addr), Instruction: in.Text, Symbol: in.Symbol}
		if in.File != "" {
			di.Location = &godap.Source{Name: filepath.Base(in.File), Path: in.File}
			di.Line = in.Line
		}
		resp.Body.Instructions = append(resp.Body.Instructions, di)
	}
	ss.send(resp)
}

func (ss *session) evaluate(r *godap.EvaluateRequest) {
	e := ss.eng()
	if e == nil {
		ss.fail(r, errNotLaunched)
		return
	}
	tid, idx := 0, 0
	if r.Arguments.FrameId != 0 {
		tid, idx = splitFrameID(r.Arguments.FrameId)
	}
	v, err := e.Eval(tid, idx, r.Arguments.Expression)
	if err != nil {
		ss.fail(r, err)
		return
	}
	resp := &godap.EvaluateResponse{Response: ss.ok(r)}
	resp.Body.Result = v
	if strings.Contains(v, "\n") {
		// Multi-line results (packet, map, regs) expand line by line.
		var kids []debugger.Var
		for i, l := range strings.Split(v, "\n") {
			kids = append(kids, debugger.Var{Name: strconv.Itoa(i), Value: l})
		}
		resp.Body.Result = strings.SplitN(v, "\n", 2)[0]
		resp.Body.VariablesReference = ss.ref(kids)
	}
	ss.send(resp)
}

// detach lets the scenario run to its end without the debugger and waits
// for it (bounded).
func (ss *session) detach() {
	ss.mu.Lock()
	e, done := ss.engine, ss.done
	ss.mu.Unlock()
	if e == nil {
		return
	}
	e.Detach()
	if done == nil {
		return
	}
	d := ss.srv.EndTimeout
	if d == 0 {
		d = 30 * time.Second
	}
	select {
	case <-done:
	case <-time.After(d):
		// Nothing more to do: the process ends with the session.
	}
}
