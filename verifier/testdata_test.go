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
	"github.com/skmsg/skmsg/loader"
)

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
// kernel to refuse ("program: NAME ... rejected: true").
func rejectedInScenarios(tb testing.TB) map[string]bool {
	tb.Helper()
	files, err := filepath.Glob(testobj.Path("scenarios", "*.yaml"))
	require.NoError(tb, err)
	re := regexp.MustCompile(`program:\s*([A-Za-z0-9_]+).*rejected:\s*true`)
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

// TestTestdataAccepted: every sockmap program skmsg's tests load passes
// the verifier, except those made to be refused (named "bad", or expected
// to be rejected by a bundled scenario).
func TestTestdataAccepted(t *testing.T) {
	progs := testdataPrograms(t)
	require.NotEmpty(t, progs)
	rejected := rejectedInScenarios(t)
	for _, p := range progs {
		res, err := Verify(p, Options{})
		require.NoError(t, err, p.Name)
		_, prog, _ := strings.Cut(p.Name, "/")
		bad := strings.Contains(prog, "bad") || rejected[prog]
		if bad {
			require.False(t, res.Accepted, "%s is made to be refused", p.Name)
			require.NotEmpty(t, res.Reason, p.Name)
			continue
		}
		require.True(t, res.Accepted, "%s refused: %s\n%s", p.Name, res.Reason, res.Log)
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
