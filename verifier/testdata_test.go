package verifier

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/internal/verifiercorpus"
	"github.com/skmsg/skmsg/loader"
)

// testdataCases are the sockmap programs of the objects in testdata/
// outside the verifier corpus, as corpus cases.
func testdataCases(tb testing.TB) []verifiercorpus.Case {
	tb.Helper()
	var paths []string
	for _, pat := range []string{"*.o", "*/*.o"} {
		p, err := filepath.Glob(filepath.Join(testobj.Path("."), pat))
		require.NoError(tb, err)
		paths = append(paths, p...)
	}
	var out []verifiercorpus.Case
	for _, p := range paths {
		if filepath.Base(filepath.Dir(p)) == "verifier" {
			continue
		}
		obj, err := loader.Open(p)
		if err != nil {
			continue
		}
		for _, prog := range obj.ProgramList {
			if rulesFor(prog.Type, prog.AttachType) == nil || prog.Unsupported != nil {
				continue
			}
			out = append(out, verifiercorpus.Case{Object: filepath.Base(p), Obj: obj, Prog: prog})
		}
	}
	return out
}

// testdataPrograms are the sockmap programs of the objects in testdata/
// outside the verifier corpus: what skmsg's own tests and scenarios load.
func testdataPrograms(tb testing.TB) []*Program {
	tb.Helper()
	var paths []string
	for _, pat := range []string{"*.o", "*/*.o"} {
		p, err := filepath.Glob(filepath.Join(testobj.Path("."), pat))
		require.NoError(tb, err)
		paths = append(paths, p...)
	}
	var out []*Program
	for _, p := range paths {
		if filepath.Base(filepath.Dir(p)) == "verifier" {
			continue
		}
		obj, err := loader.Open(p)
		if err != nil {
			// Objects made to fail in the loader (unknown sections, CO-RE
			// misses) are the loader's tests.
			continue
		}
		for _, prog := range obj.ProgramList {
			if rulesFor(prog.Type, prog.AttachType) == nil || prog.Unsupported != nil {
				// Programs skmsg cannot run (a CO-RE relocation the
				// loader poisoned, ...) are not loaded at all.
				continue
			}
			vp := FromLoader(obj, prog)
			vp.Name = filepath.Base(p) + "/" + prog.Name
			out = append(out, vp)
		}
	}
	return out
}

// rejectedInScenarios lists the programs a bundled scenario expects the
// kernel to refuse: "program: NAME ... rejected: true" in the programs
// list, or an attach step that loads NAME on first use and expects the
// load's EACCES.
func rejectedInScenarios(tb testing.TB) map[string]bool {
	tb.Helper()
	files, err := filepath.Glob(testobj.Path("scenarios", "*.yaml"))
	require.NoError(tb, err)
	re := regexp.MustCompile(`program:\s*([A-Za-z0-9_]+).*(?:rejected:\s*true|attach:.*error:\s*EACCES)`)
	out := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(tb, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
	}
	return out
}

// TestTestdataAccepted: the sockmap programs skmsg's tests load get the
// kernel's verdict: the running kernel's when programs can be loaded,
// otherwise those made to be refused (named "bad", or expected to be
// rejected by a bundled scenario) are refused and the others accepted
// (a refusal of another program is only logged then: a new testdata
// object may hold programs refused on purpose).
func TestTestdataAccepted(t *testing.T) {
	cases := testdataCases(t)
	require.NotEmpty(t, cases)
	rejected := rejectedInScenarios(t)
	var k *verifiercorpus.Kernel
	if why := verifiercorpus.KernelAvailable(); why == nil {
		k = verifiercorpus.NewKernel()
		defer k.Close()
	} else {
		t.Logf("no kernel to compare with (%v): checking names and scenarios", why)
	}
	for _, c := range cases {
		res, err := Verify(FromLoader(c.Obj, c.Prog), Options{})
		require.NoError(t, err, c.Key())
		if k != nil {
			mine := verifiercorpus.Verdict{Object: c.Object, Program: c.Prog.Name, Section: c.Prog.Section,
				Accepted: res.Accepted, Errno: ErrnoName(res.Errno), Reason: res.Reason}
			l, err := k.Check(c, &mine)
			require.NoError(t, err, c.Key())
			require.Equal(t, l.Verdict.Accepted, res.Accepted, "%s: kernel %v, skmsg %s (%s)\n%s", c.Key(), l.Verdict, res.Reason, ErrnoName(res.Errno), res.Log)
			if !res.Accepted {
				require.Equal(t, l.Verdict.Errno, ErrnoName(res.Errno), "%s: kernel %v, skmsg %s", c.Key(), l.Verdict, res.Reason)
			}
			continue
		}
		bad := strings.Contains(c.Prog.Name, "bad") || rejected[c.Prog.Name]
		switch {
		case bad:
			require.False(t, res.Accepted, "%s is made to be refused", c.Key())
		case !res.Accepted:
			t.Logf("%s refused: %s", c.Key(), res.Reason)
		}
	}
}

func TestVerifyBadInput(t *testing.T) {
	_, err := Verify(nil, Options{})
	require.ErrorIs(t, err, ErrBadInput)
	_, err = Verify(&Program{Name: "empty"}, Options{})
	require.ErrorIs(t, err, ErrBadInput)
}

// BenchmarkVerifyTestdata verifies each sockmap program of testdata/.
func BenchmarkVerifyTestdata(b *testing.B) {
	progs := testdataPrograms(b)
	for _, p := range progs {
		b.Run(p.Name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := Verify(p, Options{}); err != nil && !errors.Is(err, ErrUnsupportedType) {
					b.Fatal(err)
				}
			}
		})
	}
}
