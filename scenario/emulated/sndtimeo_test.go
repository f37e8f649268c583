package emulated_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// runInline runs scenario text as if it were a file in testdata/scenarios
// (objects resolve there).
func runInline(t *testing.T, text string, opts scenario.Options) *scenario.Result {
	t.Helper()
	sc, err := scenario.ParseBytes(scenarioPath("inline.yaml"), []byte(text))
	require.NoError(t, err)
	res, err := scenario.Run(sc, &emulated.Backend{}, opts)
	require.NoError(t, err)
	return res
}

// stepByLine finds the result of the step written on line.
func stepByLine(t *testing.T, res *scenario.Result, line int) scenario.StepResult {
	t.Helper()
	for _, s := range res.Steps {
		if s.Phase == scenario.PhaseSteps && s.Line == line {
			return s
		}
	}
	t.Fatalf("no step on line %d in:\n%s", line, res.Summary())
	return scenario.StepResult{}
}

// A blocking send bigger than every buffer on its way, with nobody
// reading, ends with the count accepted so far once nothing moves any
// more (it used to hang), on every path a send can take.
func TestBlockingSendThatCannotComplete(t *testing.T) {
	for _, tc := range []struct {
		name, setup string
		size        int
		all         bool // every byte is accepted (the kernel does the same)
	}{
		{name: "plain TCP, 50 MiB", size: 50 << 20, setup: `
object: pass.o
connections: [{name: a}, {name: b}]`},
		{name: "sk_msg pass, 100 MB", size: 100_000_000, setup: `
object: pass.o
programs: [{program: msg_pass, attach: sk_msg, map: sock_map}]
connections: [{name: a}, {name: b}]
maps: [{map: sock_map, key: u32:0, socket: a.client}]`},
		{name: "sk_msg egress redirect", size: 50 << 20, setup: `
object: redirect.o
programs: [{program: msg_redir_egress, attach: sk_msg, map: sock_map}]
connections: [{name: a}, {name: b}]
maps: [{map: sock_map, key: u32:0, socket: a.client}, {map: sock_map, key: u32:1, socket: b.client}]`},
		// The kernel queues an ingress redirect on the target's psock
		// whatever its receive buffer holds: 50 MiB go in at once.
		{name: "sk_msg ingress redirect", size: 50 << 20, all: true, setup: `
object: redirect.o
programs: [{program: msg_redir_ingress, attach: sk_msg, map: sock_map}]
connections: [{name: a}, {name: b}]
maps: [{map: sock_map, key: u32:0, socket: a.client}, {map: sock_map, key: u32:1, socket: b.server}]`},
		// An sk_skb redirect never holds the sender back either: the
		// target's backlog takes whatever the verdict redirects.
		{name: "sk_skb verdict, 10 MiB", size: 10 << 20, all: true, setup: `
object: verdict.o
programs: [{program: skb_redir_ingress, attach: stream_verdict, map: sock_map}]
connections: [{name: a}, {name: b}]
maps: [{map: sock_map, key: u32:0, socket: a.server}, {map: sock_map, key: u32:1, socket: b.client}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := fmt.Sprintf("name: blocking send\n%s\nsteps:\n  - send: {socket: a.client, size: %d, pattern: zero}\n", tc.setup, tc.size)
			start := time.Now()
			res := runInline(t, text, scenario.Options{StepTimeout: 60 * time.Second})
			s := res.Steps[len(res.Steps)-1]
			require.Equal(t, "send", s.Kind, res.Summary())
			require.True(t, s.Pass, res.Summary())
			require.NotNil(t, s.Obs.Ret, res.Summary())
			if tc.all {
				assert.Equal(t, int64(tc.size), *s.Obs.Ret)
			} else {
				assert.Greater(t, *s.Obs.Ret, int64(0), "some bytes fit the buffers")
				assert.Less(t, *s.Obs.Ret, int64(tc.size), "not all of them")
			}
			t.Logf("send of %d bytes returned %d after %v", tc.size, *s.Obs.Ret, time.Since(start).Round(time.Millisecond))
		})
	}
}

// A second blocking send into buffers that are already full accepts
// nothing: EAGAIN, as a send timeout gives on the kernel.
func TestBlockingSendIntoFullBuffersIsEAGAIN(t *testing.T) {
	res := runInline(t, `
name: full
object: pass.o
connections: [{name: a}]
steps:
  - send: {socket: a.client, size: 20000000, pattern: zero}
  - send: {socket: a.client, data: "more", expect: {error: EAGAIN}}
`, scenario.Options{})
	require.True(t, res.Passed(), res.Summary())
}

// A 1 MiB send through an sk_skb verdict that redirects to a socket nobody
// reads yet: the deliveries held for room wait for the reader, not for a
// clock, so the pipeline goes idle with the send complete and the read
// takes everything (it used to fail with "network not idle" after 2 s on a
// busy machine, and took about 6 s alone with a 1 ms retry timer keeping
// the network busy).
func TestMegabyteThroughVerdict(t *testing.T) {
	res := runInline(t, `
name: verdict
object: verdict.o
programs: [{program: skb_redir_ingress, attach: stream_verdict, map: sock_map}]
connections: [{name: a}, {name: b}]
maps: [{map: sock_map, key: u32:0, socket: a.server}, {map: sock_map, key: u32:1, socket: b.client}]
steps:
  - send: {socket: a.client, size: 1048576, pattern: random, expect: {ret: 1048576}}
  - recv: {socket: b.client, size: 1048576, pattern: random}
`, scenario.Options{IdleTimeout: time.Millisecond})
	require.True(t, res.Passed(), res.Summary())
}

// Streams through the parser paths. These are not bundled files compared
// with the kernel: on 6.18 the kernel's strparser path stops now and then
// with bytes left in TCP (an 8 MiB stream stopped after 899,584 bytes, a
// million bytes of 10-byte frames after 976,000), and skmsg, which charges
// the psock's queue to the receive buffer the same way, stops too on
// large streams (917,500 of a million bytes of 10-byte frames; 458,752 of
// 512 KiB of whole skbs), so only a small stream runs here. Why both stop
// is not found yet.
func TestStreamThroughParsers(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{name: "10,000 10-byte frames", text: `
name: parser small
object: parser.o
programs:
  - {program: prog_parser, attach: stream_parser, map: sock_map}
  - {program: prog_verdict, attach: stream_verdict, map: sock_map}
connections: [{name: a}]
maps: [{map: sock_map, key: u32:0, socket: a.server}]
steps:
  - stream: {from: a.client, to: a.server, size: 100000, pattern: seq, chunk: 4000}
  - recv: {socket: a.server, data: ""}
  - lookup: {map: counters, key: u32:0, value: u64:10000}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runInline(t, tc.text, scenario.Options{})
			require.True(t, res.Passed(), res.Summary())
		})
	}
}

// A stream whose verdict drops everything: nothing arrives, and the step
// says so with expect received; without it, it fails naming the count.
func TestStreamExpectations(t *testing.T) {
	res := runInline(t, `
name: drops
object: drop.o
programs: [{program: msg_drop, attach: sk_msg, map: sock_map}]
connections: [{name: a}]
maps: [{map: sock_map, key: u32:0, socket: a.client}]
steps:
  - stream: {from: a.client, to: a.server, size: 100000, expect: {error: EACCES}}
  - stream: {from: a.client, to: a.server, size: 100000}
`, scenario.Options{})
	first, second := stepByLine(t, res, 8), stepByLine(t, res, 9)
	assert.True(t, first.Pass, first.Message)
	assert.False(t, second.Pass)
	assert.Contains(t, second.Message, "EACCES")
}

// A step that cannot finish before its deadline fails saying what it was
// blocked on, and the steps after it are not run.
func TestStepDeadline(t *testing.T) {
	res := runInline(t, `
name: deadline
object: pass.o
connections: [{name: a}]
steps:
  - stream: {from: a.client, to: a.server, size: 68719476736}
  - recv: {socket: a.server, data: ""}
`, scenario.Options{StepTimeout: 300 * time.Millisecond})
	require.False(t, res.Passed())
	s := stepByLine(t, res, 6)
	assert.Contains(t, s.Message, "the step's deadline (300ms) passed in step 1 (line 6")
	assert.Contains(t, s.Message, "streaming from a.client to a.server")
	assert.NotEmpty(t, res.Stopped)
	for _, st := range res.Steps {
		assert.NotEqual(t, 7, st.Line, "the step after the deadline must not run")
	}
}
