package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario/kernel"
)

func bundled(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(testobj.Path("scenarios", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// jsonStep is what each --json line must hold.
type jsonStep struct {
	Scenario string `json:"scenario"`
	File     string `json:"file"`
	Backend  string `json:"backend"`
	Phase    string `json:"phase"`
	Step     int    `json:"step"`
	Line     int    `json:"line"`
	Kind     string `json:"kind"`
	Pass     *bool  `json:"pass"`
}

type junitDoc struct {
	Suites []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name    string    `xml:"name,attr"`
			Line    int       `xml:"line,attr"`
			Failure *struct{} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestRunBundledScenarios runs every bundled scenario through the command
// with every report format: all pass, each --json line is a step, the
// JUnit report has a test case per step, and each scenario's pcap decodes.
func TestRunBundledScenarios(t *testing.T) {
	files := bundled(t)
	dir := t.TempDir()
	junit := filepath.Join(dir, "report.xml")
	pcap := filepath.Join(dir, "wire.pcap")
	stdout, stderr, code := runBinary(t, append([]string{"run", "--json", "--junit", junit, "--pcap", pcap}, files...)...)
	require.Equal(t, exitOK, code, "stderr:\n%s", stderr)

	// One JSON object per line, one line per step; each passed.
	var steps []jsonStep
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var s jsonStep
		require.NoError(t, json.Unmarshal(sc.Bytes(), &s), "line %q", sc.Text())
		require.NotNil(t, s.Pass, "line %q has no pass field", sc.Text())
		assert.True(t, *s.Pass, "%s", sc.Text())
		assert.Equal(t, "skmsg", s.Backend)
		assert.Positive(t, s.Line)
		steps = append(steps, s)
	}
	perFile := map[string]int{}
	for _, s := range steps {
		perFile[s.File]++
	}
	assert.Len(t, perFile, len(files), "every file reported steps")

	// JUnit: well-formed, a suite per file, a case per JSON step.
	raw, err := os.ReadFile(junit)
	require.NoError(t, err)
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(raw, &doc))
	require.Len(t, doc.Suites, len(files))
	cases := 0
	for _, s := range doc.Suites {
		assert.Equal(t, len(s.Cases), s.Tests)
		assert.Zero(t, s.Failures, s.Name)
		cases += len(s.Cases)
	}
	assert.Equal(t, len(steps), cases, "one test case per step")

	// A capture per scenario, named after it, that gopacket decodes.
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".yaml")
		path := filepath.Join(dir, "wire-"+base+".pcap")
		frames := decodePcap(t, path)
		assert.Positive(t, frames, "%s: no TCP frames captured", path)
	}
}

// decodePcap reads a capture with gopacket and returns its TCP frames.
func decodePcap(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	require.NoError(t, err, path)
	src := gopacket.NewPacketSource(r, r.LinkType())
	n := 0
	for p := range src.Packets() {
		require.Nil(t, p.ErrorLayer(), "%s: undecodable frame: %v", path, p.ErrorLayer())
		if p.Layer(layers.LayerTypeTCP) != nil {
			n++
		}
	}
	return n
}

// TestRunPcapCarriesPayload: the bytes a scenario sends through TCP are on
// the captured wire, and tshark (where installed) reads the file.
func TestRunPcapCarriesPayload(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "pass.pcap")
	_, stderr, code := runBinary(t, "run", "--pcap", pcap, testobj.Path("scenarios", "pass.yaml"))
	require.Equal(t, exitOK, code, stderr)

	f, err := os.Open(pcap)
	require.NoError(t, err)
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	require.NoError(t, err)
	var payload []byte
	syns := 0
	for p := range gopacket.NewPacketSource(r, r.LinkType()).Packets() {
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			continue
		}
		if tcp.SYN {
			syns++
		}
		payload = append(payload, tcp.Payload...)
	}
	assert.Equal(t, 2, syns, "one handshake: SYN and SYN-ACK")
	assert.Contains(t, string(payload), "hello world")

	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed; gopacket decoding checked above")
	}
	out, err := exec.Command(tshark, "-r", pcap, "-T", "fields", "-e", "frame.number").Output()
	require.NoError(t, err)
	lines := strings.Fields(string(out))
	require.NotEmpty(t, lines)
	n, err := strconv.Atoi(lines[len(lines)-1])
	require.NoError(t, err)
	assert.Positive(t, n)
}

// writeScenario writes a scenario beside nothing: objects are named by
// absolute path.
func writeScenario(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestRunFailingStep(t *testing.T) {
	obj := testobj.Path("scenarios", "pass.o")
	file := writeScenario(t, "wrong.yaml", fmt.Sprintf(`name: a wrong expectation
object: %s
programs:
  - {program: msg_pass, attach: sk_msg, map: sock_map}
connections:
  - name: a
maps:
  - {map: sock_map, key: u32:0, socket: a.client}
steps:
  - send: {socket: a.client, data: "hello world"}
    expect: {ret: 11}
  - recv: {socket: a.server, data: "hello wOrld"}
  - send: {socket: a.client, data: "x"}
    expect: {error: EACCES}
`, obj))
	stdout, stderr, code := runBinary(t, "run", file)
	require.Equal(t, exitFailure, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	// The failing recv: its number, its line, the first differing byte
	// and both sides around it.
	assert.Contains(t, stdout, "FAIL step 2 (line 12) recv")
	assert.Contains(t, stdout, "first difference at offset 7")
	assert.Regexp(t, `expected \[0\] 68 65 6c 6c 6f 20 77 4f 72 6c 64 \|hello wOrld\|`, stdout)
	assert.Regexp(t, `got      \[0\] 68 65 6c 6c 6f 20 77 6f 72 6c 64 \|hello world\|`, stdout)
	// The wrong errno expectation.
	assert.Contains(t, stdout, "FAIL step 3 (line 13) send")
	assert.Contains(t, stdout, "expected error EACCES, got success (ret 1)")
	// Passing steps are not printed without -v, the summary is.
	assert.NotContains(t, stdout, "PASS step 1")
	assert.Regexp(t, `FAIL .*wrong.yaml: 6 of 8 steps passed on skmsg`, stdout)

	stdout, _, code = runBinary(t, "run", "-v", file)
	require.Equal(t, exitFailure, code)
	assert.Contains(t, stdout, "PASS step 1 (line 10) send")

	// JSON and JUnit say the same.
	junit := filepath.Join(t.TempDir(), "r.xml")
	stdout, _, code = runBinary(t, "run", "--json", "--junit", junit, file)
	require.Equal(t, exitFailure, code)
	var failed []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var s jsonStep
		require.NoError(t, json.Unmarshal([]byte(l), &s))
		if !*s.Pass {
			failed = append(failed, fmt.Sprintf("%s %d line %d", s.Phase, s.Step, s.Line))
		}
	}
	assert.Equal(t, []string{"steps 2 line 12", "steps 3 line 13"}, failed)
	raw, err := os.ReadFile(junit)
	require.NoError(t, err)
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(raw, &doc))
	require.Len(t, doc.Suites, 1)
	assert.Equal(t, 2, doc.Suites[0].Failures)
}

func TestRunUnusableFiles(t *testing.T) {
	obj := testobj.Path("scenarios", "pass.o")
	cases := []struct {
		name, text string
		want       string // regexp on stderr
	}{
		{"unknown field", fmt.Sprintf("name: x\nobject: %s\nsteps:\n  - sned: {socket: a.client}\n", obj), `bad\.yaml:4:5: .*sned`},
		{"yaml syntax", "name: [x\n", `bad\.yaml:\d+:\d+: `},
		{"value size", fmt.Sprintf("name: x\nobject: %s\nconnections:\n  - name: a\nsteps:\n  - lookup: {map: counters, key: u64:0}\n", obj), `bad\.yaml:6:\d+: .*(size|bytes)`},
		{"missing object", "name: x\nobject: nowhere.o\n", `bad\.yaml:2:9: .*nowhere\.o`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := writeScenario(t, "bad.yaml", c.text)
			stdout, stderr, code := runBinary(t, "run", file)
			assert.Equal(t, exitUsage, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Regexp(t, c.want, stderr)
		})
	}
	_, stderr, code := runBinary(t, "run", filepath.Join(t.TempDir(), "absent.yaml"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "absent.yaml")

	// A bad file among good ones: the good ones still run, the exit
	// status is the worst.
	bad := writeScenario(t, "bad.yaml", "name: [x\n")
	stdout, _, code := runBinary(t, "run", bad, testobj.Path("scenarios", "pass.yaml"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stdout, "PASS "+testobj.Path("scenarios", "pass.yaml"))
}

func TestRunOptionErrors(t *testing.T) {
	pass := testobj.Path("scenarios", "pass.yaml")
	for _, args := range [][]string{
		{"run"},
		{"run", "--shard", "0/2", pass},
		{"run", "--shard", "3/2", pass},
		{"run", "--shard", "x", pass},
		{"run", "--seed", "-1", pass},
		{"run", "--color", "pink", pass},
		{"run", "--kernel", "--pcap", "x.pcap", pass},
		{"run", "--nope", pass},
		{"trace"},
		{"trace", pass, pass},
		{"trace", "--step", "999", pass},
		{"compare"},
	} {
		_, stderr, code := runBinary(t, args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, stderr)
		assert.NotEmpty(t, stderr, "%v", args)
	}
}

// TestRunShards: the slices of --shard I/N are disjoint and cover all
// files, whatever order the files are given in.
func TestRunShards(t *testing.T) {
	files := bundled(t)
	const n = 3
	seen := map[string]int{}
	for i := 1; i <= n; i++ {
		rev := append([]string(nil), files...)
		sort.Sort(sort.Reverse(sort.StringSlice(rev)))
		stdout, stderr, code := runBinary(t, append([]string{"run", "--json", "--shard", fmt.Sprintf("%d/%d", i, n)}, rev...)...)
		require.Equal(t, exitOK, code, stderr)
		inShard := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var s jsonStep
			require.NoError(t, json.Unmarshal([]byte(l), &s))
			inShard[s.File] = true
		}
		assert.NotEmpty(t, inShard)
		for f := range inShard {
			seen[f]++
		}
	}
	assert.Len(t, seen, len(files))
	for f, k := range seen {
		assert.Equal(t, 1, k, "%s ran in %d shards", f, k)
	}
}

func TestShardFiles(t *testing.T) {
	files := []string{"e", "a", "d", "b", "c"}
	for _, c := range []struct {
		shard string
		want  []string
	}{
		{"", []string{"a", "b", "c", "d", "e"}},
		{"1/1", []string{"a", "b", "c", "d", "e"}},
		{"1/2", []string{"a", "c", "e"}},
		{"2/2", []string{"b", "d"}},
		{"3/3", []string{"c"}},
		{"5/5", []string{"e"}},
		{"6/6", nil},
	} {
		got, err := shardFiles(files, c.shard)
		require.NoError(t, err, c.shard)
		assert.Equal(t, c.want, got, c.shard)
	}
}

func TestPcapPath(t *testing.T) {
	assert.Equal(t, "out.pcap", pcapPath("out.pcap", "dir/a.yaml", false))
	assert.Equal(t, "out-a.pcap", pcapPath("out.pcap", "dir/a.yaml", true))
	assert.Equal(t, "/tmp/x/out-b", pcapPath("/tmp/x/out", "b.yaml", true))
}

// TestRunSeed: --seed changes random payloads (so a file that expects the
// seed-0 bytes fails with another seed) and the report names the seed.
func TestRunSeed(t *testing.T) {
	pass := testobj.Path("scenarios", "pass.yaml")
	stdout, _, code := runBinary(t, "run", pass)
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "(seed 0)")
	// pass.yaml sends and expects random bytes: both sides follow the
	// seed, so it still passes.
	stdout, _, code = runBinary(t, "run", "--seed", "7", pass)
	require.Equal(t, exitOK, code, stdout)
	assert.Contains(t, stdout, "(seed 7)")

	// Expecting fixed bytes where random ones of seed 7 arrive fails.
	obj := testobj.Path("scenarios", "pass.o")
	file := writeScenario(t, "seeded.yaml", fmt.Sprintf(`name: seed
object: %s
programs:
  - {program: msg_pass, attach: sk_msg, map: sock_map}
connections:
  - name: a
steps:
  - send: {socket: a.client, size: 16, pattern: random}
  - recv: {socket: a.server, hex: %s}
`, obj, randomHex(t, 0, 16)))
	_, _, code = runBinary(t, "run", file)
	assert.Equal(t, exitOK, code)
	stdout, _, code = runBinary(t, "run", "--seed", "7", file)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stdout, "first difference at offset 0")
}

// randomHex is the `random` pattern of docs/scenarios.md for a seed, computed
// from the contract (ChaCha8 seeded with the seed, little-endian, in the
// first 8 bytes).
func randomHex(t *testing.T, seed uint64, n int) string {
	t.Helper()
	out, err := exec.Command("go", "run", writeGoFile(t, fmt.Sprintf(`package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
)

func main() {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], %d)
	b := make([]byte, %d)
	rand.NewChaCha8(s).Read(b)
	fmt.Print(hex.EncodeToString(b))
}
`, seed, n))).Output()
	require.NoError(t, err)
	return string(out)
}

func writeGoFile(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "main.go")
	require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	return p
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTraceCommand(t *testing.T) {
	file := testobj.Path("scenarios", "redirect_ingress.yaml")
	stdout, stderr, code := runBinary(t, "trace", "--step", "1", file)
	require.Equal(t, exitOK, code, stderr)
	assert.NotRegexp(t, ansi, stdout, "no colour when stdout is not a terminal")
	for _, want := range []string{
		"PASS step 1 (line 13) send: send 11 bytes on a.client",
		"program msg_redir_ingress (sk_msg) on a.client, 11 bytes",
		// C source lines from BTF line info.
		"redirect.c:15: return bpf_msg_redirect_map(msg, &sock_map, 1, BPF_F_INGRESS);",
		// The helper call with its arguments and result.
		"call msg_redirect_map",
		// Memory written: the counter in its map value.
		"map_value(counters)[0] ← 1 (8 bytes)",
		"verdict: redirect to b.server (ingress) (returned 1)",
	} {
		assert.Contains(t, stdout, want)
	}
	assert.Regexp(t, `msg_redirect_map\(0x[0-9a-f]+, 0x[0-9a-f]+, 1, 1, 0\) = 1`, stdout)
	// Only step 1.
	assert.NotContains(t, stdout, "step 2 ")

	// The second send runs with counter 1 already there: the add writes 2.
	stdout, _, code = runBinary(t, "trace", "--step", "5", file)
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "map_value(counters)[0] ← 2 (8 bytes)")
	assert.Contains(t, stdout, ", 4000 bytes")

	// After the target closed: the redirect finds no socket, the verdict
	// is drop.
	stdout, _, code = runBinary(t, "trace", "--step", "10", file)
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "verdict: drop")

	stdout, _, code = runBinary(t, "trace", "--program", "nothing_like_it", file)
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "program nothing_like_it did not run")

	stdout, _, code = runBinary(t, "trace", "--color", "always", "--step", "1", file)
	require.Equal(t, exitOK, code)
	assert.Regexp(t, ansi, stdout)
	assert.Contains(t, ansi.ReplaceAllString(stdout, ""), "verdict: redirect to b.server (ingress)")
}

// TestTraceReceivePath: sk_skb parser and verdict runs are traced too,
// with the socket they ran for.
func TestTraceReceivePath(t *testing.T) {
	stdout, stderr, code := runBinary(t, "trace", "--step", "1", testobj.Path("scenarios", "verdict.yaml"))
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "program skb_redir_ingress (sk_skb) on a.server, 11 bytes")
	assert.Contains(t, stdout, "verdict: redirect to b.client (ingress) (returned 1)")

	// 30 bytes in 10-byte frames: three parser runs, each a frame.
	stdout, stderr, code = runBinary(t, "trace", "--step", "1", "--program", "prog_parser", testobj.Path("scenarios", "parser.yaml"))
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, 3, strings.Count(stdout, "parsed: frame of 10 bytes"), stdout)
	assert.NotContains(t, stdout, "prog_verdict")
}

func TestRunTraceFlag(t *testing.T) {
	file := testobj.Path("scenarios", "redirect_ingress.yaml")
	stdout, stderr, code := runBinary(t, "run", "--trace", file)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "PASS step 1 (line 13) send")
	assert.Contains(t, stdout, "verdict: redirect to b.server (ingress)")

	// --json with --trace: each step's program runs, and the text
	// report (with instructions) on stderr.
	stdout, stderr, code = runBinary(t, "run", "--json", "--trace", file)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "redirect.c:15:")
	type run struct {
		Program string `json:"program"`
		Socket  string `json:"socket"`
		Verdict string `json:"verdict"`
		Target  string `json:"target"`
		Ingress bool   `json:"ingress"`
	}
	var sends [][]run
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var s struct {
			jsonStep
			Runs []run `json:"runs"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &s), l)
		if s.Kind == "send" {
			sends = append(sends, s.Runs)
		}
	}
	redirect := run{"msg_redir_ingress", "a.client", "redirect", "b.server", true}
	drop := run{"msg_redir_ingress", "a.client", "drop", "", false}
	assert.Equal(t, [][]run{{redirect}, {redirect}, {drop}}, sends)
}

// kernelOrSkip skips a test that needs the kernel oracle.
func kernelOrSkip(t *testing.T) {
	t.Helper()
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
}

func TestRunKernel(t *testing.T) {
	file := testobj.Path("scenarios", "redirect_ingress.yaml")
	if err := kernel.Available(); err != nil {
		_, stderr, code := runBinary(t, "run", "--kernel", file)
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, "kernel oracle unavailable")
		return
	}
	// trace_pipe is machine-wide: leave it to tests that read it.
	stdout, stderr, code := runBinary(t, "run", "--kernel", "--trace-pipe=false", "-v", file)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "passed on kernel")
}

func TestCompare(t *testing.T) {
	kernelOrSkip(t)
	files := []string{testobj.Path("scenarios", "redirect_ingress.yaml"), testobj.Path("scenarios", "pass.yaml")}
	stdout, stderr, code := runBinary(t, append([]string{"compare"}, files...)...)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	for _, f := range files {
		assert.Contains(t, stdout, "SAME "+f+": 0 difference(s)")
	}

	// The clocks and the random source are the kernel's on one side and
	// skmsg's virtual ones on the other: the lookup and the final map
	// contents differ, everything else agrees.
	file := writeScenario(t, "clocks.yaml", fmt.Sprintf(`name: clocks and randomness
object: %s
programs:
  - {program: msg_clock, attach: sk_msg, map: sock_map}
connections:
  - name: a
maps:
  - {map: sock_map, key: u32:0, socket: a.client}
steps:
  - send: {socket: a.client, data: "x"}
  - recv: {socket: a.server, data: "x"}
  - lookup: {map: seen, key: u32:0}
`, testobj.Path("skmsg-run", "clock.o")))
	stdout, stderr, code = runBinary(t, "compare", file)
	require.Equal(t, exitFailure, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "DIFF step 3 (line 12) lookup: value differs")
	assert.Regexp(t, `skmsg: +[0-9a-f]{16}\n +kernel: +[0-9a-f]{16}`, stdout)
	assert.Contains(t, stdout, "DIFF final contents: map seen differs")
	assert.NotContains(t, stdout, "DIFF step 1 ")
	assert.NotContains(t, stdout, "DIFF step 2 ")
	assert.Contains(t, stdout, "2 difference(s)")

	stdout, _, code = runBinary(t, "compare", "--json", file)
	require.Equal(t, exitFailure, code)
	var whats []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var d struct {
			File string `json:"file"`
			What string `json:"what"`
			Step int    `json:"step"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &d), l)
		assert.Equal(t, file, d.File)
		whats = append(whats, d.What)
	}
	assert.Contains(t, whats, "value")
	assert.Contains(t, whats, "map seen")

	bad := writeScenario(t, "bad.yaml", "name: [x\n")
	_, stderr, code = runBinary(t, "compare", bad)
	assert.Equal(t, exitUsage, code)
	assert.Regexp(t, `bad\.yaml:\d+:\d+`, stderr)
}

// TestRunFilesOrder: outcomes come back in the order of the files, with at
// most jobs files running at once.
func TestRunFilesOrder(t *testing.T) {
	files := []string{"a", "b", "c", "d", "e", "f", "g"}
	for _, jobs := range []int{0, 1, 3} {
		var mu sync.Mutex
		running, peak := 0, 0
		out := runFiles(files, jobs, func(f string) fileRun {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			defer func() {
				mu.Lock()
				running--
				mu.Unlock()
			}()
			return fileRun{file: f, code: len(f)}
		})
		got := make([]string, len(out))
		for i, fr := range out {
			got[i] = fr.file
		}
		assert.Equal(t, files, got, "jobs %d", jobs)
		limit := jobs
		if jobs == 0 {
			limit = goruntime.GOMAXPROCS(0)
		}
		assert.LessOrEqual(t, peak, limit, "jobs %d", jobs)
	}
}

// TestRunShowsPrintk: bpf_printk output is printed under the step whose
// program printed it, even when every step passes.
func TestRunShowsPrintk(t *testing.T) {
	stdout, stderr, code := runBinary(t, "run", testobj.Path("scenarios", "printk.yaml"))
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "PASS step 1 (line 10) send: send 5 bytes on a.client\n    bpf_printk: skmsg scenario: msg size 5\n")
	assert.Equal(t, 1, strings.Count(stdout, "bpf_printk:"), stdout)
}
