//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	godap "github.com/google/go-dap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// screen collects what a program writes to its terminal.
type screen struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return len(p), nil
}

// waitFor waits until the screen shows want n times (since the start),
// failing after 20s with what it shows.
func (s *screen) waitFor(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		got := strings.Count(s.buf.String(), want)
		ch := s.changed
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("the terminal never showed %q (%d times); it shows:\n%s", want, n, s.buf.String())
		}
	}
}

func debugMarker(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open("../../testdata/debug/debug.c")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), "break: "+name+" ") {
			return n
		}
	}
	t.Fatalf("no marker %q", name)
	return 0
}

// The terminal debugger on a pseudo-terminal, as a user types: a
// breakpoint on a C line, run, print a context field (and again from
// the history with the up arrow), continue to the end of the scenario,
// which passes, and quit.
func TestDebugTerminal(t *testing.T) {
	bin := binary(t)
	history := filepath.Join(t.TempDir(), "history")
	cmd := exec.Command(bin, "debug", "--history", history, "../../testdata/debug/debug.yaml")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	require.NoError(t, err)
	defer tty.Close()
	scr := &screen{changed: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		// Ends with an error when the program exits and the pty closes.
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			if n > 0 {
				scr.Write(buf[:n])
			}
			if err != nil {
				close(copied)
				return
			}
		}
	}()
	typeLine := func(s string) {
		t.Helper()
		_, err := tty.Write([]byte(s + "\r"))
		require.NoError(t, err)
	}
	line := debugMarker(t, "msg")
	scr.waitFor(t, "(skmsg) ", 1)
	typeLine(fmt.Sprintf("break debug.c:%d", line))
	scr.waitFor(t, fmt.Sprintf("Breakpoint 1: debug.c:%d", line), 1)
	typeLine("run")
	scr.waitFor(t, "Stopped (breakpoint 1) in msg_debug", 1)
	scr.waitFor(t, "msg->size; /* break: msg */", 1)
	typeLine("print msg->size")
	scr.waitFor(t, "msg->size = 11 (0xb)", 1)
	typeLine("\x1b[A") // up: the same command again, from the history
	scr.waitFor(t, "msg->size = 11 (0xb)", 2)
	typeLine("bt")
	scr.waitFor(t, fmt.Sprintf("#0 msg_debug, msg_debug pc 0 at debug.c:%d", line), 1)
	typeLine("continue")
	scr.waitFor(t, "12 of 12 steps passed", 1)
	scr.waitFor(t, "The scenario ended: passed.", 1)
	typeLine("quit")

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("exit status %d", ee.ExitCode())
		}
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("skmsg-run debug did not exit within 20s of quit")
	}
	<-copied
	h, err := os.ReadFile(history)
	require.NoError(t, err)
	assert.Contains(t, string(h), "print msg->size")
}

func TestDebugUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{args: []string{"debug"}, code: exitUsage, err: "want a scenario file"},
		{args: []string{"debug", "a.yaml", "b.yaml"}, code: exitUsage, err: "at most one"},
		{args: []string{"debug", "--dap", "--listen", ":0", "a.yaml"}, code: exitUsage, err: "exclude each other"},
		{args: []string{"debug", "--history", "", "/nonexistent.yaml"}, code: exitUsage, err: "nonexistent.yaml"},
		{args: []string{"debug", "--step-timeout", "-1s", "a.yaml"}, code: exitUsage, err: "must not be negative"},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		assert.Equal(t, tc.code, code, tc.args)
		assert.Contains(t, errb.String(), tc.err, tc.args)
	}
}

// dapRun drives a minimal DAP session to the end of the scenario: launch
// (naming the file when the adapter was started without one), a function
// breakpoint, the stop, continue, exited with the scenario's status.
func dapRun(t *testing.T, rw io.ReadWriter, scenarioArg string) {
	t.Helper()
	br := bufio.NewReader(rw)
	seq := 0
	send := func(r godap.RequestMessage, command string) {
		seq++
		req := r.GetRequest()
		req.Seq, req.Type, req.Command = seq, "request", command
		require.NoError(t, godap.WriteProtocolMessage(rw, r))
	}
	read := func() godap.Message {
		m, err := godap.ReadProtocolMessage(br)
		require.NoError(t, err)
		if e, ok := m.(*godap.ErrorResponse); ok {
			t.Fatalf("error response to %s: %s", e.Command, e.Message)
		}
		return m
	}
	until := func(want func(godap.Message) bool) godap.Message {
		for {
			if m := read(); want(m) {
				return m
			}
		}
	}
	send(&godap.InitializeRequest{}, "initialize")
	until(func(m godap.Message) bool { _, ok := m.(*godap.InitializeResponse); return ok })
	args := json.RawMessage(`{}`)
	if scenarioArg != "" {
		args, _ = json.Marshal(map[string]string{"scenario": scenarioArg})
	}
	send(&godap.LaunchRequest{Arguments: args}, "launch")
	until(func(m godap.Message) bool { _, ok := m.(*godap.InitializedEvent); return ok })
	send(&godap.SetFunctionBreakpointsRequest{Arguments: godap.SetFunctionBreakpointsArguments{
		Breakpoints: []godap.FunctionBreakpoint{{Name: "msg_debug"}}}}, "setFunctionBreakpoints")
	bp := until(func(m godap.Message) bool { _, ok := m.(*godap.SetFunctionBreakpointsResponse); return ok })
	require.True(t, bp.(*godap.SetFunctionBreakpointsResponse).Body.Breakpoints[0].Verified)
	send(&godap.ConfigurationDoneRequest{}, "configurationDone")
	stop := until(func(m godap.Message) bool { _, ok := m.(*godap.StoppedEvent); return ok }).(*godap.StoppedEvent)
	send(&godap.EvaluateRequest{Arguments: godap.EvaluateArguments{Expression: "msg->size", FrameId: stop.Body.ThreadId << 4}}, "evaluate")
	ev := until(func(m godap.Message) bool { _, ok := m.(*godap.EvaluateResponse); return ok })
	assert.Equal(t, "11 (0xb)", ev.(*godap.EvaluateResponse).Body.Result)
	send(&godap.ContinueRequest{}, "continue")
	exited := until(func(m godap.Message) bool { _, ok := m.(*godap.ExitedEvent); return ok })
	assert.Equal(t, 0, exited.(*godap.ExitedEvent).Body.ExitCode)
	until(func(m godap.Message) bool { _, ok := m.(*godap.TerminatedEvent); return ok })
	send(&godap.DisconnectRequest{}, "disconnect")
	until(func(m godap.Message) bool { _, ok := m.(*godap.DisconnectResponse); return ok })
}

// waitExit waits for the adapter to exit with status 0.
func waitExit(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the adapter did not exit within 20s of the disconnect")
	}
}

// stdio joins a command's stdout (read) and stdin (write).
type stdio struct {
	io.Reader
	io.Writer
}

func TestDebugDAPOnStdio(t *testing.T) {
	cmd := exec.Command(binary(t), "debug", "--dap", "../../testdata/debug/debug.yaml")
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	dapRun(t, stdio{out, in}, "")
	in.Close()
	waitExit(t, cmd)
	assert.Empty(t, stderr.String(), "nothing but DAP on stdout, nothing on stderr")
}

func TestDebugDAPListen(t *testing.T) {
	cmd := exec.Command(binary(t), "debug", "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	require.True(t, sc.Scan(), "the adapter says where it listens")
	addr, ok := strings.CutPrefix(sc.Text(), "DAP server listening at: ")
	require.True(t, ok, sc.Text())
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(60*time.Second)))
	dapRun(t, conn, "../../testdata/debug/debug.yaml")
	waitExit(t, cmd)
}
