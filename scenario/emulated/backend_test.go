package emulated_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// skmsgPending lists the bundled scenarios skmsg cannot pass yet, with the
// reason. An unlisted one must pass; a listed one that passes is reported
// so that it is taken off the list.
var skmsgPending = map[string]string{}

func bundledScenarios(t *testing.T) []string {
	files, err := filepath.Glob(testobj.Path("scenarios", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func TestBundledScenariosOnSkmsg(t *testing.T) {
	for _, f := range bundledScenarios(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			res, err := scenario.RunFile(f, &emulated.Backend{}, scenario.Options{})
			require.NoError(t, err)
			if why, pending := skmsgPending[name]; pending {
				if res.Passed() {
					t.Logf("%s passes on skmsg now: take it off skmsgPending (%s)", name, why)
				} else {
					t.Logf("not yet on skmsg (%s):\n%s", why, res.Summary())
				}
				return
			}
			require.True(t, res.Passed(), res.Summary())
		})
	}
}

func scenarioPath(name string) string { return testobj.Path("scenarios", name) }

// stepRuns returns the program runs of step n of the steps: phase.
func stepRuns(t *testing.T, res *scenario.Result, runs [][]*emulated.ProgramRun, n int) []*emulated.ProgramRun {
	t.Helper()
	require.Len(t, runs, len(res.Steps), "one list of runs per recorded step")
	for i, s := range res.Steps {
		if s.Phase == scenario.PhaseSteps && s.Number == n {
			return runs[i]
		}
	}
	t.Fatalf("no step %d", n)
	return nil
}

func TestSkmsgTrace(t *testing.T) {
	b := &emulated.Backend{Trace: true}
	res, err := scenario.RunFile(scenarioPath("redirect_ingress.yaml"), b, scenario.Options{})
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Summary())
	runs := b.Runs()

	// Step 1: a.client's send redirected to b.server's ingress.
	s1 := stepRuns(t, res, runs, 1)
	require.Len(t, s1, 1)
	r := s1[0]
	assert.Equal(t, "msg_redir_ingress", r.Program)
	assert.Equal(t, "sk_msg", r.Type)
	assert.Equal(t, "a.client", r.Socket)
	assert.Equal(t, "redirect", r.Verdict)
	assert.Equal(t, "b.server", r.Target)
	assert.True(t, r.Ingress)
	assert.EqualValues(t, 11, r.Size)
	assert.EqualValues(t, 1, r.Return)
	require.NotEmpty(t, r.Insns)
	assert.Equal(t, asm.Exit, r.Insns[len(r.Insns)-1].Insn.OpCode.JumpOp())

	var helpers []string
	sources := map[string]bool{}
	wrote := false
	for _, in := range r.Insns {
		if in.Helper != nil {
			helpers = append(helpers, in.Helper.Name)
			assert.True(t, in.Insn.IsBuiltinCall())
		}
		if in.Source != nil {
			sources[filepath.Base(in.Source.FileName())] = true
		}
		if in.Mem != nil && strings.Contains(in.Mem.Region, "counters") {
			wrote = true
			assert.EqualValues(t, 1, in.Mem.Value, "first run: the counter goes 0 → 1")
		}
	}
	assert.Equal(t, []string{"map_lookup_elem", "msg_redirect_map"}, helpers)
	assert.True(t, sources["redirect.c"], "C source lines from BTF: %v", sources)
	assert.True(t, wrote, "the counter increment is a traced memory write")
	call := r.Insns[len(r.Insns)-2]
	require.NotNil(t, call.Helper)
	assert.EqualValues(t, 60, call.Helper.ID)
	assert.EqualValues(t, 1, call.Helper.Args[2], "key 1")
	assert.EqualValues(t, 1, call.Helper.Args[3], "BPF_F_INGRESS")
	assert.EqualValues(t, 1, call.Helper.Ret, "SK_PASS")

	// recv steps run no program; the send after b.server closed drops.
	assert.Empty(t, stepRuns(t, res, runs, 2))
	s10 := stepRuns(t, res, runs, 10)
	require.Len(t, s10, 1)
	assert.Equal(t, "drop", s10[0].Verdict)
	assert.Empty(t, s10[0].Target)
}

func TestSkmsgRunsWithoutTrace(t *testing.T) {
	b := &emulated.Backend{RecordRuns: true}
	res, err := scenario.RunFile(scenarioPath("redirect_ingress.yaml"), b, scenario.Options{})
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Summary())
	s5 := stepRuns(t, res, b.Runs(), 5)
	require.Len(t, s5, 1)
	assert.Equal(t, "redirect", s5[0].Verdict)
	assert.EqualValues(t, 4000, s5[0].Size)
	assert.Empty(t, s5[0].Insns, "instructions are only kept when tracing")

	// Neither Trace nor RecordRuns: no runs are kept.
	b = &emulated.Backend{}
	res, err = scenario.RunFile(scenarioPath("redirect_ingress.yaml"), b, scenario.Options{})
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Summary())
	for i, runs := range b.Runs() {
		assert.Empty(t, runs, "step %d", i)
	}
}

// TestSkmsgSocketNames: sockets made by connect steps, listeners and
// sockops-driven map entries carry the scenario's names in runs.
func TestSkmsgSocketNames(t *testing.T) {
	b := &emulated.Backend{Trace: true}
	res, err := scenario.RunFile(scenarioPath("sockops.yaml"), b, scenario.Options{})
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Summary())
	runs := b.Runs()
	s5 := stepRuns(t, res, runs, 5)
	require.Len(t, s5, 1)
	assert.Equal(t, "c.client", s5[0].Socket)
	assert.Equal(t, "c.server", s5[0].Target)
	s7 := stepRuns(t, res, runs, 7)
	require.Len(t, s7, 1)
	assert.Equal(t, "c.server", s7[0].Socket)
	assert.Equal(t, "c.client", s7[0].Target)
	// The connect step ran the sockops program (traced, no verdict).
	var ops []string
	for _, r := range stepRuns(t, res, runs, 1) {
		ops = append(ops, r.Program)
	}
	assert.Contains(t, ops, "bpf_sockops")
}

func TestSkmsgPcap(t *testing.T) {
	var buf bytes.Buffer
	res, err := scenario.RunFile(scenarioPath("pass.yaml"), &emulated.Backend{Pcap: &buf}, scenario.Options{})
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Summary())
	r, err := pcapgo.NewReader(&buf)
	require.NoError(t, err)
	var payload []byte
	fins := 0
	for p := range gopacket.NewPacketSource(r, r.LinkType()).Packets() {
		require.Nil(t, p.ErrorLayer())
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			payload = append(payload, tcp.Payload...)
			if tcp.FIN {
				fins++
			}
		}
	}
	assert.Contains(t, string(payload), "hello world")
	assert.Contains(t, string(payload), "abc")
	assert.Positive(t, fins, "the shutdown is on the wire")
	assert.Greater(t, len(payload), 65536+1000)
}

// TestSkmsgSeed: the seed reaches the payloads and the programs' random
// source, so one seed replays bit for bit and another differs.
func TestSkmsgSeed(t *testing.T) {
	obj := testobj.Path("skmsg-run", "clock.o")
	file := filepath.Join(t.TempDir(), "clock.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`name: clock
object: `+obj+`
programs:
  - {program: msg_clock, attach: sk_msg, map: sock_map}
connections:
  - name: a
maps:
  - {map: sock_map, key: u32:0, socket: a.client}
steps:
  - send: {socket: a.client, size: 100, pattern: random}
  - recv: {socket: a.server, size: 100, pattern: random}
  - lookup: {map: seen, key: u32:1}
`), 0o644))
	random := func(seed uint64) (data, prandom []byte) {
		res, err := scenario.RunFile(file, &emulated.Backend{}, scenario.Options{Seed: &seed})
		require.NoError(t, err)
		require.True(t, res.Passed(), res.Summary())
		for _, s := range res.Steps {
			if s.Phase == scenario.PhaseSteps && s.Number == 2 {
				data = s.Obs.Data
			}
			if s.Phase == scenario.PhaseSteps && s.Number == 3 {
				prandom = s.Obs.Value
			}
		}
		return data, prandom
	}
	d1, p1 := random(1)
	d1again, p1again := random(1)
	d2, p2 := random(2)
	assert.Equal(t, d1, d1again)
	assert.Equal(t, p1, p1again)
	assert.NotEqual(t, d1, d2)
	assert.NotEqual(t, p1, p2)
	assert.Len(t, p1, 8)
}

// TestSkmsgTracePrintk: a bpf_printk call is traced with its format
// string (read from .rodata) and its arguments.
func TestSkmsgTracePrintk(t *testing.T) {
	file := filepath.Join(t.TempDir(), "clock.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`name: clock
object: `+testobj.Path("skmsg-run", "clock.o")+`
programs:
  - {program: msg_clock, attach: sk_msg, map: sock_map}
connections:
  - name: a
maps:
  - {map: sock_map, key: u32:0, socket: a.client}
steps:
  - send: {socket: a.client, data: "seven b"}
`), 0o644))
	b := &emulated.Backend{Trace: true}
	res, err := scenario.RunFile(file, b, scenario.Options{})
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Summary())
	runs := stepRuns(t, res, b.Runs(), 1)
	require.Len(t, runs, 1)
	var printk *emulated.TracedHelper
	for _, in := range runs[0].Insns {
		if in.Helper != nil && in.Helper.Name == "trace_printk" {
			printk = in.Helper
		}
	}
	require.NotNil(t, printk, "trace_printk call traced")
	assert.Equal(t, "sk_msg of %u bytes", printk.Format)
	assert.EqualValues(t, len("sk_msg of %u bytes")+1, printk.Args[1], "size includes the NUL")
	assert.EqualValues(t, 7, printk.Args[2], "msg->size")
	assert.EqualValues(t, len("sk_msg of 7 bytes"), printk.Ret)
}

// TestSkmsgPrintkLogs: what programs print with bpf_printk is in the
// observation of the step whose send ran them (the message alone, as the
// kernel's trace_pipe shows it), with or without tracing.
func TestSkmsgPrintkLogs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "printk2.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`name: printk per step
object: `+scenarioPath("printk.o")+`
programs:
  - {program: msg_printk, attach: sk_msg, map: sock_map}
connections:
  - name: a
maps:
  - {map: sock_map, key: u32:0, socket: a.client}
steps:
  - send: {socket: a.client, data: "hello"}
  - recv: {socket: a.server, data: "hello"}
  - send: {socket: a.client, data: "hi there"}
  - recv: {socket: a.server, data: "hi there"}
`), 0o644))
	for _, tc := range []struct {
		name string
		file string
		want map[int][]string // step number -> lines; other steps print nothing
	}{
		{"bundled printk.yaml", scenarioPath("printk.yaml"), map[int][]string{1: {"skmsg scenario: msg size 5"}}},
		{"two sends", file, map[int][]string{
			1: {"skmsg scenario: msg size 5"},
			3: {"skmsg scenario: msg size 8"},
		}},
	} {
		for _, trace := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/trace=%v", tc.name, trace), func(t *testing.T) {
				res, err := scenario.RunFile(tc.file, &emulated.Backend{Trace: trace}, scenario.Options{})
				require.NoError(t, err)
				require.True(t, res.Passed(), res.Summary())
				got := map[int][]string{}
				for _, s := range res.Steps {
					if len(s.Obs.Logs) == 0 {
						continue
					}
					require.Equal(t, scenario.PhaseSteps, s.Phase, "printk output outside the steps: %q", s.Obs.Logs)
					got[s.Number] = s.Obs.Logs
				}
				assert.Equal(t, tc.want, got)
			})
		}
	}
}

// BenchmarkScenario runs one bundled scenario per iteration: on skmsg, on
// skmsg with every instruction traced, and on the kernel (the baseline
// where it is available).
func BenchmarkScenario(b *testing.B) {
	sc, err := scenario.Load(scenarioPath("redirect_ingress.yaml"))
	require.NoError(b, err)
	backends := []struct {
		name string
		new  func() scenario.Backend
	}{
		{"skmsg", func() scenario.Backend { return &emulated.Backend{} }},
		{"skmsg-trace", func() scenario.Backend { return &emulated.Backend{Trace: true} }},
	}
	if kernel.Available() == nil {
		backends = append(backends, struct {
			name string
			new  func() scenario.Backend
		}{"kernel", func() scenario.Backend { return kernel.New() }})
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			for b.Loop() {
				res, err := scenario.Run(sc, be.new(), scenario.Options{})
				if err != nil || !res.Passed() {
					b.Fatalf("%v %s", err, res.Summary())
				}
			}
		})
	}
}
