package cover_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/cover"
	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/vm"
)

// load prepares testdata/cover/branches.o's program in a fresh space, as
// each scenario loads its objects anew.
func load(t testing.TB) (*vm.Machine, *vm.Program) {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("cover", "branches.o"))
	require.NoError(t, err)
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "branches", spec.Programs["branches"].Instructions, vm.Options{})
	require.NoError(t, err)
	return space.NewMachine(), p
}

// runSeed runs the program once with ctx->seed = seed.
func runSeed(t testing.TB, m *vm.Machine, p *vm.Program, seed uint64) uint64 {
	t.Helper()
	m.Reset()
	ctx := make([]byte, 24)
	binary.LittleEndian.PutUint64(ctx, seed)
	addr := m.AddRegion(vm.Region{Name: "ctx", Data: ctx, Perm: vm.PermRead})
	r0, err := m.Run(p, addr)
	require.NoError(t, err)
	return r0
}

// lineOf finds the line whose text contains s in the file named like name.
func lineOf(t *testing.T, prof *cover.Profile, name, s string) *cover.Line {
	t.Helper()
	for _, f := range prof.Files {
		if !strings.HasSuffix(f.Name, name) {
			continue
		}
		for _, l := range f.Lines {
			if strings.Contains(l.Text, s) {
				return l
			}
		}
	}
	t.Fatalf("no line with %q in %s", s, name)
	return nil
}

func TestProfile(t *testing.T) {
	// The program: "if (x & 1)" picks r += 10 or 20, scale() multiplies
	// for x > 100, "if (x == 7777)" zeroes. Each seed list is run once per
	// load, loaded twice, so every count is doubled.
	for _, tc := range []struct {
		name        string
		seeds       []uint64
		runs        uint64
		branchesHit int // of 6 (three jumps)
		states      map[string]cover.State
	}{
		{"not run", nil, 0, 0, map[string]cover.State{
			"if (x & 1)": cover.Never, "if (x > 100)": cover.Never, "if (x == 7777)": cover.Never}},
		{"odd small", []uint64{1}, 2, 3, map[string]cover.State{
			"if (x & 1)": cover.Partly, "if (x > 100)": cover.Partly, "if (x == 7777)": cover.Partly,
			"return r;": cover.Covered}},
		{"both ways but 7777", []uint64{1, 200}, 4, 5, map[string]cover.State{
			"if (x & 1)": cover.Covered, "if (x > 100)": cover.Covered, "if (x == 7777)": cover.Partly}},
		{"everything", []uint64{1, 200, 7777}, 6, 6, map[string]cover.State{
			"if (x & 1)": cover.Covered, "if (x > 100)": cover.Covered, "if (x == 7777)": cover.Covered}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := cover.NewRecorder()
			for range 2 {
				m, p := load(t)
				rec.Add(p, "testdata/cover/branches.o")
				m.SetCoverage(rec)
				for _, s := range tc.seeds {
					runSeed(t, m, p, s)
				}
			}
			prof := rec.Profile()
			require.Len(t, prof.Programs, 1, "two loads of one program add up")
			prog := prof.Programs[0]
			assert.Equal(t, "branches", prog.Name)
			assert.Equal(t, tc.runs, prog.Runs)
			assert.Equal(t, 6, prog.Branches)
			assert.Equal(t, tc.branchesHit, prog.BranchesHit)
			assert.LessOrEqual(t, prog.LinesHit, prog.Lines)
			if tc.runs == 0 {
				assert.Zero(t, prog.LinesHit)
				assert.Zero(t, prog.InsnsHit)
			}
			for text, want := range tc.states {
				assert.Equal(t, want, lineOf(t, prof, "branches.c", text).State(), text)
			}
		})
	}
}

// TestLCOV checks the tracefile with lcov's own reader (genhtml), and
// the numbers it carries.
func TestLCOV(t *testing.T) {
	rec := cover.NewRecorder()
	m, p := load(t)
	rec.Add(p, testobj.Path("cover", "branches.o"))
	m.SetCoverage(rec)
	runSeed(t, m, p, 1)
	runSeed(t, m, p, 200)
	prof := rec.Profile()
	prof.FindSources()
	require.Len(t, prof.Files, 1)
	assert.Equal(t, testobj.Path("cover", "branches.c"), prof.Files[0].Path, "found from the object's directory")

	var buf bytes.Buffer
	require.NoError(t, cover.WriteLCOV(&buf, prof, "branches test"))
	out := buf.String()
	assert.Contains(t, out, "TN:branches_test\nSF:"+testobj.Path("cover", "branches.c")+"\n")
	assert.Contains(t, out, "BRF:6\nBRH:5\n")
	assert.Contains(t, out, "FNDA:2,branches\n")
	assert.Contains(t, out, "FNDA:2,scale\n")
	assert.True(t, strings.HasSuffix(out, "end_of_record\n"))

	genhtml, err := exec.LookPath("genhtml")
	if err != nil {
		t.Skip("genhtml (Debian package lcov) is not installed: the tracefile is not checked with lcov's reader")
	}
	dir := t.TempDir()
	info := filepath.Join(dir, "cover.info")
	require.NoError(t, os.WriteFile(info, buf.Bytes(), 0o644))
	cmd := exec.Command(genhtml, "--branch-coverage", "--function-coverage", "-o", filepath.Join(dir, "html"), info)
	res, err := cmd.CombinedOutput()
	require.NoError(t, err, "genhtml: %s", res)
	// genhtml's own summary: it counted what the file says.
	assert.Contains(t, string(res), "branches...: 83.3% (5 of 6 branches)")
	assert.Contains(t, string(res), "functions..: 100.0% (2 of 2 functions)")
	assert.FileExists(t, filepath.Join(dir, "html", "index.html"))
}

func TestHTMLAndSummary(t *testing.T) {
	rec := cover.NewRecorder()
	m, p := load(t)
	rec.Add(p, testobj.Path("cover", "branches.o"))
	m.SetCoverage(rec)
	runSeed(t, m, p, 1)
	prof := rec.Profile()

	var sum bytes.Buffer
	require.NoError(t, cover.WriteSummary(&sum, prof))
	assert.Regexp(t, `(?m)^branches +\S+branches\.o +1 +\d+/\d+ +\d+\.\d% +3/6 +50\.0%`, sum.String())
	assert.Regexp(t, `(?m)^total +\d+/\d+`, sum.String())

	for _, found := range []bool{true, false} {
		dir := t.TempDir()
		if found {
			prof.FindSources()
		} else {
			prof.Files[0].Path = ""
		}
		require.NoError(t, cover.WriteHTML(dir, prof))
		idx, err := os.ReadFile(filepath.Join(dir, "index.html"))
		require.NoError(t, err)
		assert.Contains(t, string(idx), `<a href="file0.html">./testdata/cover/branches.c</a>`)
		page, err := os.ReadFile(filepath.Join(dir, "file0.html"))
		require.NoError(t, err)
		assert.Regexp(t, `<tr class="part"[^>]*><td class="ln">\d+</td><td class="hits">1</td><td class="marks">\[- &#43;\]</td><td class="code">\s*if \(x &amp; 1\)</td>`, string(page))
		if found {
			assert.Contains(t, string(page), "Coverage test program", "the whole source, comments included")
		} else {
			assert.NotContains(t, string(page), "Coverage test program")
			assert.Contains(t, string(page), "Source file not found")
		}
	}
}

// TestConcurrentRecorder: machines on several goroutines cover into one
// recorder (run with -race).
func TestConcurrentRecorder(t *testing.T) {
	rec := cover.NewRecorder()
	done := make(chan struct{})
	const workers, runs = 4, 50
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			m, p := load(t)
			m.SetCoverage(rec)
			for range runs {
				runSeed(t, m, p, 1)
			}
		}()
	}
	for range workers {
		<-done
	}
	prof := rec.Profile()
	require.Len(t, prof.Programs, 1)
	assert.Equal(t, uint64(workers*runs), prof.Programs[0].Runs)
}

// BenchmarkRecorder is the cost per instruction of coverage on the
// interpreter alone (the worst case: no network around the runs), as
// the ratio of covered to plain runs in one process.
func BenchmarkRecorder(b *testing.B) {
	m, p := load(b)
	ctx := make([]byte, 24)
	addr := m.AddRegion(vm.Region{Name: "ctx", Data: ctx, Perm: vm.PermRead})
	rec := cover.NewRecorder()
	var plain, covered time.Duration
	for b.Loop() {
		start := time.Now()
		for range 100 {
			if _, err := m.Run(p, addr); err != nil {
				b.Fatal(err)
			}
		}
		plain += time.Since(start)
		m.SetCoverage(rec)
		start = time.Now()
		for range 100 {
			if _, err := m.Run(p, addr); err != nil {
				b.Fatal(err)
			}
		}
		covered += time.Since(start)
		m.SetCoverage(nil)
	}
	b.ReportMetric(float64(covered)/float64(plain), "x-plain")
	b.ReportMetric(float64(covered.Nanoseconds())/float64(b.N*100)/float64(m.Executed()), "covered-ns/insn")
}
