//go:build linux

package emulated_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// The stress scenarios (testdata/stress): large sends and streams through
// every path, thousands of records through a stream parser, hundreds of
// sockops-inserted connections, redirect targets closed mid-transfer and
// receivers that never read. Their expectations are what the kernel does;
// the files of testdata/stress/skmsg_only are what the kernel does when
// its own races let it (see the comment of each).

// stressScenarios lists the files of testdata/stress/dir by name.
func stressScenarios(t *testing.T, dir ...string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(testobj.Path(append(append([]string{"stress"}, dir...), "*.yaml")...))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]string{}
	for _, f := range files {
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = f
	}
	return out
}

// stressOptions gives each step room beside the rest of the suite on two
// busy cores: a file takes a few seconds alone.
var stressOptions = scenario.Options{StepTimeout: 2 * time.Minute}

// TestStressScenarios runs every stress file on skmsg, and where BPF is
// permitted on the kernel too: the kernel must meet the file's
// expectations, and the two must agree on every observation and on every
// map's contents at the end. Files of skmsg_only run on skmsg alone. Each
// file runs once on skmsg either way, to keep the set's cost in CI low.
func TestStressScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: hundreds of megabytes through every path take about a minute (make test runs them)")
	}
	var emu *emulated.Backend
	if err := kernel.Available(); err != nil {
		t.Logf("skmsg only: %v", err)
	} else {
		emu = skmsgLikeKernel(t)
	}
	run := func(t *testing.T, f string, compare bool) {
		if !compare {
			res, err := scenario.RunFile(f, &emulated.Backend{}, stressOptions)
			require.NoError(t, err)
			if !res.Passed() || testing.Verbose() {
				_ = res.WriteText(os.Stdout)
			}
			require.True(t, res.Passed(), res.Summary())
			return
		}
		sc, err := scenario.Load(f)
		require.NoError(t, err)
		cmp, err := scenario.Compare(sc, kernel.New(), emu, stressOptions)
		require.NoError(t, err)
		for _, r := range []*scenario.Result{cmp.A, cmp.B} {
			if !r.Passed() {
				_ = r.WriteText(os.Stdout)
			}
		}
		require.True(t, cmp.A.Passed(), "kernel: %s", cmp.A.Summary())
		for _, d := range cmp.Differences {
			t.Errorf("%s", d)
		}
		require.True(t, cmp.B.Passed(), "skmsg: %s", cmp.B.Summary())
	}
	// Two at a time (go test's -parallel is GOMAXPROCS): the kernel's
	// half of a comparison mostly waits for quiet periods.
	for name, f := range stressScenarios(t) {
		t.Run(name, func(t *testing.T) { t.Parallel(); run(t, f, emu != nil) })
	}
	for name, f := range stressScenarios(t, "skmsg_only") {
		t.Run("skmsg_only/"+name, func(t *testing.T) { t.Parallel(); run(t, f, false) })
	}
}

// A receiver that never reads, on every path: a blocking send bigger than
// every buffer on its way returns the count accepted so far, or all of it
// where the kernel queues without bound (an sk_msg ingress redirect, and
// every sk_skb redirect: the target's backlog takes what the verdict
// redirects whatever the target holds); a second send, non-blocking, gets
// EAGAIN or a short count (on the kernel the room left in the last partly
// filled segment, and what its send buffer grew by); once the receiver
// reads, exactly the bytes accepted arrive, in order: none is lost, none
// made up. The counts depend on buffer sizes, which differ between the
// kernel and skmsg, so this tests those rules on each backend rather than
// comparing observations.
func TestReceiverThatNeverReads(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 8 MiB through ten paths, and 2-second send timeouts on the kernel (make test runs it)")
	}
	const size = 8 << 20
	type path struct {
		name, setup, from, to string
		all                   bool // the kernel takes every byte
		// strp: the kernel may keep a tail in TCP for good (a read that
		// overtakes rcv_nxt silences data_ready; docs/differences.md).
		strp bool
	}
	msg := func(prog, target string, act, flags int) string {
		return fmt.Sprintf(`programs: [{program: %s, attach: sk_msg, map: sock_map}]
connections: [{name: a}, {name: b}]
maps:
  - {map: config, key: u32:0, value: u32:%d}
  - {map: config, key: u32:1, value: u32:1}
  - {map: config, key: u32:2, value: u32:%d}
  - {map: sock_map, key: u32:0, socket: a.client}
  - {map: sock_map, key: u32:1, socket: %s}`, prog, act, flags, target)
	}
	skb := func(progs, target string, act, flags int) string {
		return fmt.Sprintf(`programs: [%s]
connections: [{name: a}, {name: b}]
maps:
  - {map: config, key: u32:0, value: u32:%d}
  - {map: config, key: u32:1, value: u32:1}
  - {map: config, key: u32:2, value: u32:%d}
  - {map: sock_map, key: u32:0, socket: a.server}
  - {map: sock_map, key: u32:1, socket: %s}`, progs, act, flags, target)
	}
	const verdictOnly = "{program: vskb_map, attach: skb_verdict, map: sock_map}"
	const parser = "{program: parse_whole, attach: stream_parser, map: sock_map}, {program: skb_map, attach: stream_verdict, map: sock_map}"
	paths := []path{
		{name: "plain TCP", setup: "connections: [{name: a}]", from: "a.client", to: "a.server"},
		{name: "sk_msg pass", setup: msg("msg_map", "b.client", 1, 0), from: "a.client", to: "a.server"},
		{name: "sk_msg egress redirect", setup: msg("msg_map", "b.client", 2, 0), from: "a.client", to: "b.server"},
		{name: "sk_msg ingress redirect", setup: msg("msg_map", "b.server", 2, 1), from: "a.client", to: "b.server", all: true},
		{name: "sk_skb verdict pass", setup: skb(verdictOnly, "b.server", 1, 0), from: "a.client", to: "a.server"},
		{name: "sk_skb verdict egress redirect", setup: skb(verdictOnly, "b.server", 2, 0), from: "a.client", to: "b.client", all: true},
		{name: "sk_skb verdict ingress redirect", setup: skb(verdictOnly, "b.client", 2, 1), from: "a.client", to: "b.client", all: true},
		{name: "parser pass", setup: skb(parser, "b.server", 1, 0), from: "a.client", to: "a.server", strp: true},
		{name: "parser egress redirect", setup: skb(parser, "b.server", 2, 0), from: "a.client", to: "b.client", all: true},
		{name: "parser ingress redirect", setup: skb(parser, "b.client", 2, 1), from: "a.client", to: "b.client", all: true},
	}
	backends := []struct {
		name string
		b    func() scenario.Backend
	}{{"skmsg", func() scenario.Backend { return &emulated.Backend{} }}}
	if err := kernel.Available(); err != nil {
		t.Logf("skmsg only: %v", err)
	} else {
		backends = append(backends, struct {
			name string
			b    func() scenario.Backend
		}{"kernel", func() scenario.Backend { return kernel.New() }})
	}
	for _, p := range paths {
		for _, be := range backends {
			t.Run(p.name+"/"+be.name, func(t *testing.T) {
				if be.name == "kernel" {
					// Mostly waits (a 2-second send timeout per path):
					// beside the skmsg runs rather than after them.
					t.Parallel()
				}
				// Where every byte is taken, the read waits for all of
				// them: the kernel's backlog moves redirected bytes a
				// clock tick at a time. The second send's seq payload
				// continues the first's (8 MiB is a multiple of 256).
				readAll := ""
				if p.all {
					readAll = fmt.Sprintf(", size: %d, pattern: seq", size+1<<20)
				}
				text := fmt.Sprintf(`name: %s, never read
object: stress.o
%s
steps:
  - send: {socket: %s, size: %d, pattern: seq}
  - send: {socket: %s, size: 1048576, pattern: seq, flags: MSG_DONTWAIT}
  - recv: {socket: %s%s}
`, p.name, p.setup, p.from, size, p.from, p.to, readAll)
				sc, err := scenario.ParseBytes(testobj.Path("stress", "inline.yaml"), []byte(text))
				require.NoError(t, err)
				// The kernel's backlog moves what waits for a full target a
				// clock tick at a time, slower still beside other tests:
				// the read of everything may take seconds.
				opts := stressOptions
				opts.IdleTimeout = 20 * time.Second
				res, err := scenario.Run(sc, be.b(), opts)
				require.NoError(t, err)
				var steps []scenario.StepResult
				for _, s := range res.Steps {
					if s.Phase == scenario.PhaseSteps {
						steps = append(steps, s)
					}
				}
				require.Len(t, steps, 3, res.Summary())
				first, second, read := steps[0], steps[1], steps[2]
				require.Empty(t, first.Obs.Errno, "the first send: %s", first.Message)
				require.NotNil(t, first.Obs.Ret)
				accepted := *first.Obs.Ret
				want := payloadSeq(int(accepted))
				if p.all {
					require.Equal(t, int64(size), accepted, "every byte is queued on the target")
				} else {
					require.Greater(t, accepted, int64(0), "some bytes fit the buffers")
					require.Less(t, accepted, int64(size), "not all of them")
				}
				switch {
				case p.all:
					require.Empty(t, second.Obs.Errno, "the second send: %s", second.Message)
					require.Equal(t, int64(1<<20), *second.Obs.Ret)
					want = append(want, payloadSeq(1<<20)...)
				case second.Obs.Errno == "":
					require.Less(t, *second.Obs.Ret, int64(1<<20), "the second send fits only the room left")
					want = append(want, payloadSeq(int(*second.Obs.Ret))...)
				default:
					require.Equal(t, "EAGAIN", second.Obs.Errno, "the second send, into full buffers: %s", second.Message)
				}
				require.Empty(t, read.Obs.Errno, read.Message)
				got := read.Obs.Data
				if p.strp && be.name == "kernel" && len(got) < len(want) {
					t.Logf("kernel: %d of %d bytes accepted, %d read: the rest stayed in TCP (copied_seq past rcv_nxt)", accepted, size, len(got))
					want = want[:len(got)]
				}
				require.Equal(t, len(want), len(got), "bytes read at %s after %d were accepted", p.to, accepted)
				require.True(t, bytes.Equal(want, got), "the bytes read are those sent, in order")
				t.Logf("%s: %d of %d bytes accepted, all of them read", be.name, accepted, size)
			})
		}
	}
}

// payloadSeq is the seq pattern: byte i is i mod 256.
func payloadSeq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
