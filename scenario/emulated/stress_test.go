//go:build linux

package emulated_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// The stress test is too long for `go test ./...` (CI runs that without
// -short): it runs only when rounds are asked for, by flag or environment,
// e.g. `make stress` or
//
//	go test -race ./scenario/emulated -run TestStressRepeatable -stress.rounds=200
//	SKMSG_STRESS_ROUNDS=20 go test ./scenario/emulated -run TestStressRepeatable
var (
	stressRounds = flag.Int("stress.rounds", 0, "rounds of TestStressRepeatable (0: env SKMSG_STRESS_ROUNDS, else skip)")
	stressHogs   = flag.Int("stress.hogs", -1, "CPU hog processes and goroutines beside TestStressRepeatable (-1: one of each per GOMAXPROCS)")
	stressRun    = flag.String("stress.run", "", "only the bundled files whose path under testdata matches this regexp (^rx/, ^stress/, a name)")
	stressKeep   = flag.String("stress.keep", "", "directory to write the captures of a file's first run and of the first run that differs")
)

func stressRoundCount(t *testing.T) int {
	if testing.Short() {
		t.Skip("stress test: runs every bundled scenario many times")
	}
	n := *stressRounds
	if n == 0 {
		if env := os.Getenv("SKMSG_STRESS_ROUNDS"); env != "" {
			v, err := strconv.Atoi(env)
			require.NoError(t, err, "SKMSG_STRESS_ROUNDS=%q", env)
			n = v
		}
	}
	if n <= 0 {
		t.Skip("stress test: ask for rounds with -stress.rounds=N or SKMSG_STRESS_ROUNDS=N (make stress)")
	}
	return n
}

// stressFiles is every bundled scenario file: the feature files, the
// kernel-compared receive-path files and the stress files (streams and
// megabyte sends through every path).
func stressFiles(t *testing.T) []string {
	only, err := regexp.Compile(*stressRun)
	require.NoError(t, err, "-stress.run")
	var files []string
	for _, dir := range []string{"scenarios", "rx", "stress", "stress/skmsg_only"} {
		m, err := filepath.Glob(testobj.Path(dir, "*.yaml"))
		require.NoError(t, err)
		for _, f := range m {
			if only.MatchString(filepath.Join(dir, filepath.Base(f))) {
				files = append(files, f)
			}
		}
	}
	require.NotEmpty(t, files)
	return files
}

// runOutcome is everything of a run that must be the same every time the
// same file runs with the same seed: each step's verdict, message and
// observation (returns, errnos, bytes received, lookups, events), the maps
// at the end, and the program runs of each step with their verdicts,
// targets and sizes (summed over the file when a step moved more than a
// segment: streamRuns; the maps at the end are then left out too). Step
// times are left out. TestStressRepeatable adds the
// capture's bytes: with netstack's virtual clock and the seed, sequence
// numbers and timestamps repeat.
func runOutcome(res *scenario.Result, runs [][]*emulated.ProgramRun) string {
	r := *res
	r.Steps = append([]scenario.StepResult(nil), res.Steps...)
	for i := range r.Steps {
		r.Steps[i].Seconds = 0
	}
	seg := segmented(res, runs)
	if seg != "" {
		// Programs that count their runs leave counts that depend on the
		// segmentation in their maps; the file's own lookups say which
		// values are fixed.
		r.Maps = nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	_ = enc.Encode(&r)
	if seg != "" {
		// The bytes a step left in buffers are taken by the programs
		// while a later step runs, at a pace that depends on timing too:
		// the runs of the whole file are summed.
		var all []*emulated.ProgramRun
		for _, step := range runs {
			all = append(all, step...)
		}
		fmt.Fprintf(&b, "runs of the file, summed (%s moved more than a segment):\n%s", seg, streamRuns(all))
		return b.String()
	}
	for i, step := range runs {
		fmt.Fprintf(&b, "runs of step %d:\n", i)
		for _, pr := range step {
			_ = enc.Encode(pr)
		}
	}
	return b.String()
}

// segmented names the first step of a run whose traffic is cut into
// segments by timing (a stream, or programs that ran over more than one
// segment's bytes): the frames of such a run, and so its capture, differ
// from run to run on skmsg as on the kernel. "" if none.
func segmented(res *scenario.Result, runs [][]*emulated.ProgramRun) string {
	for i, st := range res.Steps {
		if st.Kind == "stream" || i < len(runs) && runBytes(runs[i]) > segmentBytes {
			return st.Name()
		}
	}
	return ""
}

// segmentBytes is the most one loopback segment carries (MTU 65535): a
// step whose programs ran over more moved several segments.
const segmentBytes = 64 << 10

// runBytes is the message bytes a step's program runs saw.
func runBytes(runs []*emulated.ProgramRun) int {
	n := 0
	for _, pr := range runs {
		n += int(pr.Size)
	}
	return n
}

// streamRuns sums program runs per program, socket and verdict: how bytes
// are cut into segments, and so how often a verdict runs and on how many
// bytes each time, depends on when the writer and the reader get the CPU,
// on the kernel as here; the bytes each verdict took do not.
func streamRuns(runs []*emulated.ProgramRun) string {
	type key struct {
		prog, sock, verdict, target, err string
		ingress                          bool
		ret                              uint64
	}
	sum := map[key][2]uint64{}
	for _, pr := range runs {
		k := key{pr.Program, pr.Socket, pr.Verdict, pr.Target, pr.Err, pr.Ingress, pr.Return}
		if pr.Verdict == "parser" {
			k.ret = 0 // a parser returns the length of the record it saw
		}
		v := sum[k]
		v[0] += uint64(pr.Size)
		v[1] += uint64(pr.SizeAfter)
		sum[k] = v
	}
	var lines []string
	for k, v := range sum {
		lines = append(lines, fmt.Sprintf("%+v: %d bytes in, %d after\n", k, v[0], v[1]))
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

// hogCPUs loads every CPU the way a busy CI machine does: n processes
// (this test binary again, in TestStressHog) spinning beside the test, so
// the runtime's and gVisor's goroutines get their threads late and in
// changing order, and n goroutines that spin in short bursts, so the Go
// scheduler preempts and reorders them too. Bursts, not endless loops: a
// goroutine that never yields holds its P for a whole 10 ms preemption
// tick at every wake-up of the test's goroutines, which slows a round ten
// times without loading the machine any more.
func hogCPUs(t *testing.T, ctx context.Context, n int) (stop func()) {
	var wg sync.WaitGroup
	var sink atomic.Uint64
	for i := 0; i < n; i++ {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStressHog$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SKMSG_STRESS_HOG=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		require.NoError(t, cmd.Start(), "start CPU hog process")
		wg.Add(2)
		go func() { defer wg.Done(); _ = cmd.Wait() }()
		go func() {
			defer wg.Done()
			x := uint64(i + 1)
			for ctx.Err() == nil {
				for j := 0; j < 1<<12; j++ {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
				}
				runtime.Gosched()
			}
			sink.Add(x)
		}()
	}
	return wg.Wait
}

// TestStressHog is a CPU hog process of TestStressRepeatable: it spins
// until its parent kills it (or dies: Pdeathsig).
func TestStressHog(t *testing.T) {
	if os.Getenv("SKMSG_STRESS_HOG") != "1" {
		t.Skip("a CPU hog process of TestStressRepeatable")
	}
	x := uint64(1)
	for {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if x == 0 {
			t.Log("unreachable: xorshift never yields 0")
		}
	}
}

// TestStressRepeatable runs every bundled scenario file many times, with
// CPU hogs beside it, and requires every run of a file to end as its first
// did: same results, same bytes, same errors, same map reads, same program
// runs. A difference is a race or a dependence on timing that a user would
// see as a flaky scenario.
func TestStressRepeatable(t *testing.T) {
	rounds := stressRoundCount(t)
	files := stressFiles(t)
	scs := make([]*scenario.Scenario, len(files))
	for i, f := range files {
		sc, err := scenario.Load(f)
		require.NoError(t, err)
		scs[i] = sc
	}
	hogs := *stressHogs
	if hogs < 0 {
		hogs = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := hogCPUs(t, ctx, hogs)
	defer func() { cancel(); wait() }()
	t.Logf("%d rounds of %d files, %d CPU hog processes and goroutines, GOMAXPROCS %d", rounds, len(files), hogs, runtime.GOMAXPROCS(0))

	first := make([]string, len(files))
	firstPcap := make([][]byte, len(files))
	differ := map[string][]int{}
	for round := 0; round < rounds; round++ {
		for i, sc := range scs {
			name, _ := filepath.Rel(testobj.Path(), files[i])
			var pcap bytes.Buffer
			b := &emulated.Backend{RecordRuns: true, Pcap: &pcap}
			start := time.Now()
			// Deadlines far past any step's time: a 64 MiB stream under
			// the race detector beside the hogs can take longer than the
			// default 30 s, and how long steps take is not what this
			// test compares.
			res, err := scenario.Run(sc, b, scenario.Options{StepTimeout: 10 * time.Minute, FileTimeout: time.Hour})
			if d := time.Since(start); round == 0 && testing.Verbose() {
				t.Logf("%s: %v", name, d.Round(time.Millisecond))
			}
			require.NoError(t, err, "%s round %d", name, round)
			got := runOutcome(res, b.Runs())
			if segmented(res, b.Runs()) == "" {
				got += fmt.Sprintf("pcap: %d bytes, sha256 %x\n", pcap.Len(), sha256.Sum256(pcap.Bytes()))
			}
			if round == 0 {
				first[i] = got
				if *stressKeep != "" {
					firstPcap[i] = pcap.Bytes()
				}
				continue
			}
			if got != first[i] {
				if len(differ[name]) == 0 {
					t.Errorf("%s: round %d differs from round 0:\n%s", name, round, lineDiff(first[i], got))
					if *stressKeep != "" {
						keepPcaps(t, name, firstPcap[i], pcap.Bytes(), round)
					}
				}
				differ[name] = append(differ[name], round)
			}
		}
		if testing.Verbose() {
			t.Logf("round %d done", round+1)
		}
	}
	var names []string
	for n := range differ {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Errorf("%s differed in %d of %d rounds (rounds %v)", n, len(differ[n]), rounds-1, differ[n])
	}
}

// keepPcaps writes a file's first capture and the one of round n to
// -stress.keep, for a look with tshark.
func keepPcaps(t *testing.T, name string, first, nth []byte, n int) {
	base := filepath.Join(*stressKeep, strings.ReplaceAll(strings.TrimSuffix(name, ".yaml"), "/", "_"))
	require.NoError(t, os.MkdirAll(*stressKeep, 0o755))
	require.NoError(t, os.WriteFile(base+"-round0.pcap", first, 0o644))
	require.NoError(t, os.WriteFile(fmt.Sprintf("%s-round%d.pcap", base, n), nth, 0o644))
	t.Logf("captures of %s in %s-round{0,%d}.pcap", name, base, n)
}

// lineDiff shows the first lines where two outcomes part, with context.
func lineDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	i := 0
	for i < len(la) && i < len(lb) && la[i] == lb[i] {
		i++
	}
	from := max(0, i-8)
	var out strings.Builder
	for j := from; j < i; j++ {
		fmt.Fprintf(&out, "   %s\n", la[j])
	}
	for j := i; j < min(len(la), i+40); j++ {
		fmt.Fprintf(&out, " - %s\n", la[j])
	}
	for j := i; j < min(len(lb), i+40); j++ {
		fmt.Fprintf(&out, " + %s\n", lb[j])
	}
	return out.String()
}
