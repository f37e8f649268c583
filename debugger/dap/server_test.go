package dap

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/debugger"
)

const (
	debugYAML = "../../testdata/debug/debug.yaml"
	debugC    = "../../testdata/debug/debug.c"
)

// client is a DAP client over pipes to an in-process server.
type client struct {
	t    *testing.T
	w    io.WriteCloser
	seq  int
	msgs chan godap.Message
	errs chan error
	// events seen while waiting for something else
	events []godap.Message
}

func start(t *testing.T, srv *Server) *client {
	cr, sw := io.Pipe() // client to server
	sr, cw := io.Pipe() // server to client
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(cr, cw)
		cw.Close()
	}()
	c := &client{t: t, w: sw, msgs: make(chan godap.Message, 100), errs: make(chan error, 1)}
	go func() {
		br := bufio.NewReader(sr)
		for {
			m, err := godap.ReadProtocolMessage(br)
			if err != nil {
				c.errs <- err
				close(c.msgs)
				return
			}
			c.msgs <- m
		}
	}()
	t.Cleanup(func() {
		sw.Close()
		select {
		case err := <-served:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the server did not end within 30s of the client going away")
		}
	})
	return c
}

func (c *client) send(r godap.RequestMessage, command string) {
	c.t.Helper()
	c.seq++
	req := r.GetRequest()
	req.Seq, req.Type, req.Command = c.seq, "request", command
	require.NoError(c.t, godap.WriteProtocolMessage(c.w, r))
}

// next returns the next message, failing after 20s.
func (c *client) next() godap.Message {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatalf("the server closed the connection: %v", <-c.errs)
		}
		return m
	case <-time.After(20 * time.Second):
		c.t.Fatal("no message from the server within 20s")
	}
	return nil
}

// expect reads until a message of type T, keeping the events passed by;
// an error response fails the test.
func expect[T godap.Message](c *client) T {
	c.t.Helper()
	for {
		m := c.next()
		if v, ok := m.(T); ok {
			return v
		}
		if e, ok := m.(*godap.ErrorResponse); ok {
			c.t.Fatalf("error response to %s: %s", e.Command, e.Message)
		}
		c.events = append(c.events, m)
	}
}

func markerLine(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(debugC)
	require.NoError(t, err)
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "break: "+name+" ") {
			return i + 1
		}
	}
	t.Fatalf("no marker %q", name)
	return 0
}

func scopeVars(c *client, frameID int) map[string]map[string]string {
	c.t.Helper()
	c.send(&godap.ScopesRequest{Arguments: godap.ScopesArguments{FrameId: frameID}}, "scopes")
	scopes := expect[*godap.ScopesResponse](c)
	out := map[string]map[string]string{}
	for _, s := range scopes.Body.Scopes {
		c.send(&godap.VariablesRequest{Arguments: godap.VariablesArguments{VariablesReference: s.VariablesReference}}, "variables")
		vars := expect[*godap.VariablesResponse](c)
		m := map[string]string{}
		for _, v := range vars.Body.Variables {
			m[v.Name] = v.Value
		}
		out[s.Name] = m
	}
	return out
}

// The whole session an editor runs: a breakpoint on a C line, the stop,
// the stack, the variables (msg->size is the 11 bytes step 1 sends),
// next, step in, disassembly, continue to the end of the scenario.
func TestSession(t *testing.T) {
	c := start(t, &Server{Open: debugger.OpenScenario, File: debugYAML})
	c.send(&godap.InitializeRequest{Arguments: godap.InitializeRequestArguments{AdapterID: "skmsg", LinesStartAt1: true, ColumnsStartAt1: true}}, "initialize")
	caps := expect[*godap.InitializeResponse](c).Body
	assert.True(t, caps.SupportsConfigurationDoneRequest)
	assert.True(t, caps.SupportsDisassembleRequest)
	assert.True(t, caps.SupportsInstructionBreakpoints)

	c.send(&godap.LaunchRequest{Arguments: json.RawMessage(`{}`)}, "launch")
	expect[*godap.LaunchResponse](c)
	expect[*godap.InitializedEvent](c)

	src, err := filepath.Abs(debugC)
	require.NoError(t, err)
	c.send(&godap.SetBreakpointsRequest{Arguments: godap.SetBreakpointsArguments{
		Source:      godap.Source{Name: "debug.c", Path: src},
		Breakpoints: []godap.SourceBreakpoint{{Line: markerLine(t, "msg")}, {Line: 2}},
	}}, "setBreakpoints")
	bps := expect[*godap.SetBreakpointsResponse](c).Body.Breakpoints
	require.Len(t, bps, 2)
	assert.True(t, bps[0].Verified, bps[0].Message)
	assert.Equal(t, markerLine(t, "msg"), bps[0].Line)
	assert.False(t, bps[1].Verified, "line 2 is a comment")
	c.send(&godap.SetExceptionBreakpointsRequest{}, "setExceptionBreakpoints")
	expect[*godap.SetExceptionBreakpointsResponse](c)
	c.send(&godap.ConfigurationDoneRequest{}, "configurationDone")
	expect[*godap.ConfigurationDoneResponse](c)

	stop := expect[*godap.StoppedEvent](c)
	assert.Equal(t, "breakpoint", stop.Body.Reason)
	assert.Equal(t, []int{bps[0].Id}, stop.Body.HitBreakpointIds)
	assert.True(t, stop.Body.AllThreadsStopped)
	tid := stop.Body.ThreadId

	c.send(&godap.ThreadsRequest{}, "threads")
	var ids []int
	for _, th := range expect[*godap.ThreadsResponse](c).Body.Threads {
		ids = append(ids, th.Id)
	}
	assert.Contains(t, ids, tid)
	assert.Contains(t, ids, debugger.ScenarioThread)

	c.send(&godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: tid}}, "stackTrace")
	frames := expect[*godap.StackTraceResponse](c).Body.StackFrames
	require.Len(t, frames, 1)
	assert.Contains(t, frames[0].Name, "msg_debug")
	require.NotNil(t, frames[0].Source)
	assert.Equal(t, src, frames[0].Source.Path)
	assert.Equal(t, markerLine(t, "msg"), frames[0].Line)
	require.NotEmpty(t, frames[0].InstructionPointerReference)

	vars := scopeVars(c, frames[0].Id)
	assert.Equal(t, "11 (0xb)", vars["Context (sk_msg_md)"]["size"], `step 1 sends "hello world", 11 bytes`)
	assert.Contains(t, vars["Registers"]["r1"], "(sk_msg_md+0)")
	assert.Contains(t, vars["Packet"]["0000"], "|hello world|")
	assert.Contains(t, vars["Maps"], "sizes")
	assert.Len(t, vars["Stack"], 64, "a 512-byte frame in 8-byte slots")

	c.send(&godap.EvaluateRequest{Arguments: godap.EvaluateArguments{Expression: "msg->size", FrameId: frames[0].Id, Context: "watch"}}, "evaluate")
	assert.Equal(t, "11 (0xb)", expect[*godap.EvaluateResponse](c).Body.Result)
	c.send(&godap.EvaluateRequest{Arguments: godap.EvaluateArguments{Expression: "msg->nosuch", FrameId: frames[0].Id}}, "evaluate")
	bad := c.next()
	require.IsType(t, &godap.ErrorResponse{}, bad)
	assert.Contains(t, bad.(*godap.ErrorResponse).Message, "nosuch")

	c.send(&godap.DisassembleRequest{Arguments: godap.DisassembleArguments{MemoryReference: frames[0].InstructionPointerReference, InstructionCount: 4}}, "disassemble")
	insns := expect[*godap.DisassembleResponse](c).Body.Instructions
	require.Len(t, insns, 4)
	assert.Equal(t, frames[0].InstructionPointerReference, insns[0].Address)
	assert.Equal(t, "r1 = *(u32 *)(r1 + 68)", insns[0].Instruction, "msg->size is the load at offset 68")

	// next: the call line; the response comes before the stop.
	c.send(&godap.NextRequest{Arguments: godap.NextArguments{ThreadId: tid}}, "next")
	expect[*godap.NextResponse](c)
	stop = expect[*godap.StoppedEvent](c)
	assert.Equal(t, "step", stop.Body.Reason)
	c.send(&godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: tid}}, "stackTrace")
	frames = expect[*godap.StackTraceResponse](c).Body.StackFrames
	assert.Equal(t, markerLine(t, "call"), frames[0].Line)

	// step in: the bpf-to-bpf call, two frames.
	c.send(&godap.StepInRequest{Arguments: godap.StepInArguments{ThreadId: tid}}, "stepIn")
	expect[*godap.StepInResponse](c)
	expect[*godap.StoppedEvent](c)
	c.send(&godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: tid}}, "stackTrace")
	frames = expect[*godap.StackTraceResponse](c).Body.StackFrames
	require.Len(t, frames, 2)
	assert.Contains(t, frames[0].Name, "add_size")
	assert.Contains(t, frames[1].Name, "msg_debug")
	// One instruction at a time.
	c.send(&godap.NextRequest{Arguments: godap.NextArguments{ThreadId: tid, Granularity: "instruction"}}, "next")
	expect[*godap.NextResponse](c)
	expect[*godap.StoppedEvent](c)
	c.send(&godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: tid}}, "stackTrace")
	next := expect[*godap.StackTraceResponse](c).Body.StackFrames
	assert.NotEqual(t, frames[0].InstructionPointerReference, next[0].InstructionPointerReference)

	// continue: no more stops, to the end of the scenario.
	c.send(&godap.ContinueRequest{Arguments: godap.ContinueArguments{ThreadId: tid}}, "continue")
	expect[*godap.ContinueResponse](c)
	exited := expect[*godap.ExitedEvent](c)
	assert.Equal(t, 0, exited.Body.ExitCode, "the scenario passed under the debugger")
	expect[*godap.TerminatedEvent](c)
	var report string
	for _, m := range c.events {
		if o, ok := m.(*godap.OutputEvent); ok {
			report += o.Body.Output
		}
		if _, ok := m.(*godap.StoppedEvent); ok {
			t.Errorf("an unexpected stop after continue")
		}
	}
	assert.Contains(t, report, "12 of 12 steps passed")
	assert.Contains(t, report, "msg_debug returned 1")

	c.send(&godap.DisconnectRequest{}, "disconnect")
	expect[*godap.DisconnectResponse](c)
}

// Launch names the scenario when the adapter was started without one;
// function and instruction breakpoints; a stop before a step via a line
// of the scenario file; pause.
func TestLaunchByArgumentAndOtherBreakpoints(t *testing.T) {
	c := start(t, &Server{Open: debugger.OpenScenario})
	c.send(&godap.InitializeRequest{}, "initialize")
	expect[*godap.InitializeResponse](c)
	c.send(&godap.LaunchRequest{Arguments: json.RawMessage(`{}`)}, "launch")
	e := c.next()
	require.IsType(t, &godap.ErrorResponse{}, e, "no scenario anywhere")
	assert.Contains(t, e.(*godap.ErrorResponse).Message, "no scenario")

	args, err := json.Marshal(map[string]any{"scenario": debugYAML})
	require.NoError(t, err)
	c.send(&godap.LaunchRequest{Arguments: args}, "launch")
	expect[*godap.LaunchResponse](c)
	expect[*godap.InitializedEvent](c)

	c.send(&godap.SetFunctionBreakpointsRequest{Arguments: godap.SetFunctionBreakpointsArguments{
		Breakpoints: []godap.FunctionBreakpoint{{Name: "skb_debug", Condition: "skb->len == 4"}}}}, "setFunctionBreakpoints")
	fb := expect[*godap.SetFunctionBreakpointsResponse](c).Body.Breakpoints
	require.Len(t, fb, 1)
	assert.True(t, fb[0].Verified, fb[0].Message)
	yaml, err := filepath.Abs(debugYAML)
	require.NoError(t, err)
	c.send(&godap.SetBreakpointsRequest{Arguments: godap.SetBreakpointsArguments{
		Source: godap.Source{Path: yaml}, Breakpoints: []godap.SourceBreakpoint{{Line: 19}}}}, "setBreakpoints")
	sb := expect[*godap.SetBreakpointsResponse](c).Body.Breakpoints
	require.True(t, sb[0].Verified, sb[0].Message)
	c.send(&godap.ConfigurationDoneRequest{}, "configurationDone")
	expect[*godap.ConfigurationDoneResponse](c)

	stop := expect[*godap.StoppedEvent](c)
	assert.Equal(t, "function breakpoint", stop.Body.Reason)
	c.send(&godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: stop.Body.ThreadId}}, "stackTrace")
	frames := expect[*godap.StackTraceResponse](c).Body.StackFrames
	assert.Contains(t, frames[0].Name, "skb_debug")
	ip := frames[0].InstructionPointerReference

	// An instruction breakpoint two instructions on.
	c.send(&godap.SetInstructionBreakpointsRequest{Arguments: godap.SetInstructionBreakpointsArguments{
		Breakpoints: []godap.InstructionBreakpoint{{InstructionReference: ip, Offset: 16}, {InstructionReference: "0x77"}}}}, "setInstructionBreakpoints")
	ib := expect[*godap.SetInstructionBreakpointsResponse](c).Body.Breakpoints
	require.Len(t, ib, 2)
	assert.True(t, ib[0].Verified, ib[0].Message)
	assert.False(t, ib[1].Verified)
	c.send(&godap.ContinueRequest{}, "continue")
	expect[*godap.ContinueResponse](c)
	stop = expect[*godap.StoppedEvent](c)
	assert.Equal(t, "instruction breakpoint", stop.Body.Reason)
	c.send(&godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: stop.Body.ThreadId}}, "stackTrace")
	frames = expect[*godap.StackTraceResponse](c).Body.StackFrames
	assert.NotEqual(t, ip, frames[0].InstructionPointerReference)

	c.send(&godap.ContinueRequest{}, "continue")
	expect[*godap.ContinueResponse](c)
	stop = expect[*godap.StoppedEvent](c)
	assert.Equal(t, "breakpoint", stop.Body.Reason)
	assert.Equal(t, debugger.ScenarioThread, stop.Body.ThreadId)
	c.send(&godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: debugger.ScenarioThread}}, "stackTrace")
	frames = expect[*godap.StackTraceResponse](c).Body.StackFrames
	require.Len(t, frames, 1)
	assert.Equal(t, yaml, frames[0].Source.Path)
	assert.Equal(t, 19, frames[0].Line)
	assert.Contains(t, frames[0].Name, "step 5")

	// Disconnect while stopped: the scenario runs to its end first.
	c.send(&godap.DisconnectRequest{}, "disconnect")
	expect[*godap.DisconnectResponse](c)
	var exited bool
	for _, m := range c.events {
		if e, ok := m.(*godap.ExitedEvent); ok {
			exited = true
			assert.Equal(t, 0, e.Body.ExitCode)
		}
	}
	assert.True(t, exited, "the scenario ended before the disconnect was answered")
}

// noDebug runs the scenario with no stop; cwd resolves a relative path.
func TestLaunchNoDebug(t *testing.T) {
	c := start(t, &Server{Open: debugger.OpenScenario})
	c.send(&godap.InitializeRequest{}, "initialize")
	expect[*godap.InitializeResponse](c)
	c.send(&godap.LaunchRequest{Arguments: json.RawMessage(`{"scenario": "debug/debug.yaml", "cwd": "../../testdata", "noDebug": true}`)}, "launch")
	expect[*godap.LaunchResponse](c)
	expect[*godap.InitializedEvent](c)
	c.send(&godap.SetFunctionBreakpointsRequest{Arguments: godap.SetFunctionBreakpointsArguments{
		Breakpoints: []godap.FunctionBreakpoint{{Name: "msg_debug"}}}}, "setFunctionBreakpoints")
	expect[*godap.SetFunctionBreakpointsResponse](c)
	c.send(&godap.ConfigurationDoneRequest{}, "configurationDone")
	expect[*godap.ConfigurationDoneResponse](c)
	exited := expect[*godap.ExitedEvent](c)
	assert.Equal(t, 0, exited.Body.ExitCode)
	for _, m := range c.events {
		_, stopped := m.(*godap.StoppedEvent)
		assert.False(t, stopped, "no stop without debugging")
	}
	c.send(&godap.DisconnectRequest{}, "disconnect")
	expect[*godap.DisconnectResponse](c)
}

func TestUnknownAndMalformedRequests(t *testing.T) {
	c := start(t, &Server{Open: debugger.OpenScenario})
	for _, body := range []string{`{"seq":1,"type":"request","command":"nosuchrequest"}`, `{"seq":2,`} {
		_, err := io.WriteString(c.w, fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body))
		require.NoError(t, err)
	}
	m := c.next()
	require.IsType(t, &godap.ErrorResponse{}, m)
	assert.False(t, m.(*godap.ErrorResponse).Success)
	assert.Equal(t, "nosuchrequest", m.(*godap.ErrorResponse).Command)
	m = c.next()
	require.IsType(t, &godap.OutputEvent{}, m)
	assert.Contains(t, m.(*godap.OutputEvent).Body.Output, "not DAP")
	c.seq = 2
	// The session goes on; requests before a launch say so.
	c.send(&godap.ThreadsRequest{}, "threads")
	expect[*godap.ThreadsResponse](c)
	c.send(&godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: 1}}, "stackTrace")
	m = c.next()
	require.IsType(t, &godap.ErrorResponse{}, m)
	assert.Contains(t, m.(*godap.ErrorResponse).Message, "no scenario launched")
}
