package term

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/debugger"
)

// syncBuffer is written by the session's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func marker(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("../../testdata/debug/debug.c")
	require.NoError(t, err)
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "break: "+name+" ") {
			return i + 1
		}
	}
	t.Fatalf("no marker %q", name)
	return 0
}

// A scripted session (commands from a pipe, not a terminal) through the
// commands a terminal test does not type: instruction steps into and out
// of the call, frames, list and disas, breakpoints on a step and their
// deletion, maps between steps, errors.
func TestScript(t *testing.T) {
	tg, err := debugger.OpenScenario("../../testdata/debug/debug.yaml")
	require.NoError(t, err)
	call := marker(t, "call")
	script := strings.Join([]string{
		"print r0", // nothing stopped yet
		fmt.Sprintf("break debug.c:%d", call),
		"break step 5",
		"break nosuchfunc",
		"info breakpoints",
		"run",
		"stepi", // the call instruction: into add_size
		"bt",
		"up",
		"print r6",
		"print r1",
		"down",
		"finish",
		"nexti",
		"list",
		"disas",
		"info registers",
		"info threads",
		"print stack[-3]",
		"bogus",
		"delete 1",
		"continue", // before step 5
		"list",
		"print r0",
		"print map sizes 0",
		"print map nosuch 0",
		"continue",
		"run",
		"quit",
	}, "\n") + "\n"
	var out syncBuffer
	code, err := Run(tg, "debug.yaml", Options{In: io.NopCloser(strings.NewReader(script)), Out: &out})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	got := out.String()
	for _, want := range []string{
		"error: nothing is stopped",
		fmt.Sprintf("Breakpoint 1: debug.c:%d", call),
		"Breakpoint 2: step 5 (",
		`Breakpoint 3: nosuchfunc (pending: no program or function "nosuchfunc" loaded (yet))`,
		fmt.Sprintf("Stopped (breakpoint 1) in msg_debug, msg_debug pc 1 at debug.c:%d", call),
		"Stopped (step) in add_size, msg_debug pc 7",
		" #1 msg_debug, msg_debug pc 1",
		"#1 msg_debug, msg_debug pc 1 at debug.c:",
		"\nr6 = 0\n",
		"error: r1 of an outer frame is not known",
		"#0 add_size, msg_debug pc 7",
		"Stopped (step) in msg_debug, msg_debug pc 2",
		"Stopped (step) in msg_debug, msg_debug pc 3",
		fmt.Sprintf("=> %4d  ", call), // pc 3 is still on the call line
		"=>    3: w0 = 1",
		"r10  0x100001000 (fp+0 of frame 0)",
		"msg_debug run",
		"error: stack[-3]: want a multiple of 8",
		`error: unknown command "bogus"`,
		"Stopped (breakpoint 2) before step 5 at debug.yaml:19: lookup sizes[u32:0]",
		"=>   19    - lookup: {map: sizes, key: u32:0, value: u64:15}",
		"error: stopped between steps",
		"map sizes 0 = 0f00000000000000 (15)",
		`error: no map "nosuch"`,
		"The scenario ended: passed.",
		"error: the scenario has ended",
	} {
		assert.Contains(t, got, want)
	}
	if t.Failed() {
		t.Log(got)
	}
}

func TestQuitBeforeRunAndAtEOF(t *testing.T) {
	tg, err := debugger.OpenScenario("../../testdata/debug/debug.yaml")
	require.NoError(t, err)
	var out syncBuffer
	code, err := Run(tg, "debug.yaml", Options{In: io.NopCloser(strings.NewReader("help\n")), Out: &out})
	require.NoError(t, err)
	assert.Equal(t, 0, code, "never ran")
	assert.Contains(t, out.String(), "finish [fin]")

	// End of input while stopped: the scenario finishes without the
	// debugger and its status is the exit status.
	tg, err = debugger.OpenScenario("../../testdata/debug/debug.yaml")
	require.NoError(t, err)
	out = syncBuffer{}
	code, err = Run(tg, "debug.yaml", Options{In: io.NopCloser(strings.NewReader("break msg_debug\nrun\n")), Out: &out})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Contains(t, out.String(), "The scenario ended: passed.")
}
