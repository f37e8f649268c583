package debugger

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

const debugYAML = "../testdata/debug/debug.yaml"

// runTarget runs t under e on a goroutine.
func runTarget(t Target, e *Engine) <-chan Outcome {
	ch := make(chan Outcome, 1)
	go func() {
		out, err := t.Run(e)
		if err != nil {
			out.Report = "run error: " + err.Error()
		}
		ch <- out
	}()
	return ch
}

func waitOutcome(t *testing.T, ch <-chan Outcome) Outcome {
	t.Helper()
	select {
	case out := <-ch:
		return out
	case <-time.After(30 * time.Second):
		t.Fatal("the scenario did not end within 30s")
	}
	return Outcome{}
}

// The scenario under the debugger: a stop in each program, with the
// values the scenario put there, and the scenario still passes.
func TestScenarioStops(t *testing.T) {
	tg, err := OpenScenario(debugYAML)
	require.NoError(t, err)
	ev := newEvents()
	cfg := tg.Config()
	cfg.Notify = ev.notify
	require.Len(t, cfg.Steps, 5)
	require.Len(t, cfg.Declared, 2)
	e := New(cfg)
	bps := e.SetBreakpoints(BreakLine, filepath.Join("..", "testdata", "debug", "debug.c"),
		[]BreakSpec{{Line: markerLine(t, "msg")}, {Line: markerLine(t, "skb")}})
	for _, b := range bps {
		require.True(t, b.Verified, b.Message)
	}
	// A breakpoint on the scenario file's line of step 5 (the lookup).
	sb := e.SetBreakpoints(BreakLine, debugYAML, []BreakSpec{{Line: cfg.Steps[4].Line}})
	require.True(t, sb[0].Verified, sb[0].Message)
	done := runTarget(tg, e)

	st := ev.stopped(t)
	assert.Equal(t, "msg_debug", top(t, e, st.Thread).Func)
	assert.Equal(t, "11 (0xb)", eval(t, e, st.Thread, "msg->size"), `"hello world" is 11 bytes`)
	pkt := eval(t, e, st.Thread, "packet")
	assert.Contains(t, pkt, "|hello world|")
	require.NoError(t, e.Continue())

	st = ev.stopped(t)
	assert.Equal(t, "skb_debug", top(t, e, st.Thread).Func)
	assert.Equal(t, "4", eval(t, e, st.Thread, "skb->len"), `"pong"`)
	// The map as the sk_msg run left it.
	v := eval(t, e, st.Thread, "map sizes 0")
	assert.Equal(t, "0b00000000000000 (11)", v)
	require.NoError(t, e.Continue())

	st = ev.stopped(t)
	assert.Equal(t, ScenarioThread, st.Thread)
	f := top(t, e, st.Thread)
	require.NotNil(t, f.Step)
	assert.Equal(t, 5, f.Step.Number)
	assert.Contains(t, f.Step.Desc, "lookup")
	_, err = e.Eval(st.Thread, 0, "r1")
	assert.ErrorContains(t, err, "between steps")
	require.NoError(t, e.Continue())

	out := waitOutcome(t, done)
	assert.True(t, out.Passed, out.Report)
}

// Stopping longer than the scenario's deadlines changes nothing: the
// verdict program is held on the receive side while the runner waits for
// the network to go idle, one and a half times as long as the whole step
// may take, and the scenario passes with the report of a run without the
// debugger. The step's deadline and the wait run on the engine's pause
// clock; a minute is the same argument with a longer pause
// (TestPauseClockTimeoutCountsActiveTimeOnly takes it on a fake clock).
//
// The deadline is a second, not less: every step the debugger does not
// hold must still end within it in active time, and on a loaded machine
// (load average 16 on two cores, the race detector on) a step whose
// goroutines wait for a CPU at each of their hand-offs took longer than
// the 100-150 ms this test once used, failing it with "network not idle".
func TestStopLongerThanStepDeadline(t *testing.T) {
	const (
		step = time.Second
		hold = step + step/2
	)
	opts := scenario.Options{StepTimeout: step, IdleTimeout: step}
	tg, err := ScenarioOpener(opts)(debugYAML)
	require.NoError(t, err)
	ev := newEvents()
	cfg := tg.Config()
	cfg.Notify = ev.notify
	e := New(cfg)
	// The sk_msg run holds the runner inside its send; the verdict run
	// holds the receive side while the runner waits for idle.
	bps := e.SetBreakpoints(BreakLine, "debug.c", []BreakSpec{{Line: markerLine(t, "msg")}, {Line: markerLine(t, "skb")}})
	require.True(t, bps[0].Verified, bps[0].Message)
	require.True(t, bps[1].Verified, bps[1].Message)
	done := runTarget(tg, e)
	for _, prog := range []string{"msg_debug", "skb_debug"} {
		st := ev.stopped(t)
		assert.Equal(t, prog, top(t, e, st.Thread).Func)
		held, paused := time.Now(), e.Clock().Paused()
		// Nothing moves while it is held: the scenario does not end.
		select {
		case out := <-done:
			t.Fatalf("the scenario went on while %s was stopped: %s", prog, out.Report)
		case <-time.After(hold):
		}
		assert.GreaterOrEqual(t, e.Clock().Paused()-paused, time.Since(held)-step/2)
		require.NoError(t, e.Continue())
	}
	out := waitOutcome(t, done)
	assert.True(t, out.Passed, out.Report)

	// The same report as a run without the debugger.
	res, err := scenario.RunFile(debugYAML, &emulated.Backend{}, opts)
	require.NoError(t, err)
	var plain bytes.Buffer
	require.NoError(t, res.WriteText(&plain))
	assert.Equal(t, plain.String(), out.Report)
}

// Stepping from a stop between steps: next goes to the next step, step
// stops at the first line of the next program run or before the next
// step, whichever comes first.
func TestScenarioStepping(t *testing.T) {
	tg, err := OpenScenario(debugYAML)
	require.NoError(t, err)
	ev := newEvents()
	cfg := tg.Config()
	cfg.Notify = ev.notify
	cfg.StopOnEntry = true
	e := New(cfg)
	done := runTarget(tg, e)
	st := ev.stopped(t)
	assert.Equal(t, ReasonEntry, st.Reason)
	assert.Equal(t, 1, top(t, e, st.Thread).Step.Number)
	require.NoError(t, e.StepOver(Line))
	st = ev.stopped(t)
	require.Equal(t, ScenarioThread, st.Thread, "next from a step stops before the next step")
	assert.Equal(t, 2, top(t, e, st.Thread).Step.Number)
	// Step 2 (recv) runs no program: step stops before step 3.
	require.NoError(t, e.StepIn(Line))
	st = ev.stopped(t)
	require.Equal(t, ScenarioThread, st.Thread)
	assert.Equal(t, 3, top(t, e, st.Thread).Step.Number)
	// Step 3's send runs no program on a.server (it is not in the map)
	// but a.client's verdict receives it.
	require.NoError(t, e.StepIn(Line))
	st = ev.stopped(t)
	f := top(t, e, st.Thread)
	assert.Equal(t, "skb_debug", f.Func)
	assert.Equal(t, markerLine(t, "skb"), f.Line)
	// Stepping off the end of the run goes on to the next step.
	require.NoError(t, e.StepOut())
	st = ev.stopped(t)
	assert.Equal(t, ScenarioThread, st.Thread)
	assert.Equal(t, 4, top(t, e, st.Thread).Step.Number)
	require.NoError(t, e.Continue())
	out := waitOutcome(t, done)
	assert.True(t, out.Passed, out.Report)
}

// bpf_printk lines show as they are printed.
func TestScenarioPrintk(t *testing.T) {
	tg, err := OpenScenario("../testdata/scenarios/printk.yaml")
	require.NoError(t, err)
	ev := newEvents()
	cfg := tg.Config()
	cfg.Notify = ev.notify
	out := waitOutcome(t, runTarget(tg, New(cfg)))
	require.True(t, out.Passed, out.Report)
	var printed []string
	for len(ev.ch) > 0 {
		x := <-ev.ch
		if x.Kind == EventOutput && strings.HasPrefix(x.Text, "bpf_printk: ") {
			printed = append(printed, x.Text)
		}
	}
	require.NotEmpty(t, printed)
	for _, p := range printed {
		assert.Contains(t, out.Report, strings.TrimPrefix(p, "bpf_printk: "), "the report has the same lines")
	}
}
