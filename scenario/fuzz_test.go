package scenario

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/skmsg/skmsg/internal/testobj"
)

// FuzzParse feeds the scenario parser arbitrary text: it must
// answer with a file or an error list, never panic, and stay within its
// bounds (no input makes it hold much more than the input's own size).
// Seeds: every bundled scenario file (the feature files, the
// kernel-compared rx files and the stress files).
func FuzzParse(f *testing.F) {
	var files []string
	for _, dir := range []string{"scenarios", "rx", "stress", "stress/skmsg_only"} {
		m, _ := filepath.Glob(testobj.Path(dir, "*.yaml"))
		files = append(files, m...)
	}
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("x: &a [*a]\n"))
	f.Add([]byte("steps:\n  - stream: {from: a.client, to: a.server, size: 1}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sc, err := ParseBytes(filepath.Join(testobj.Path("scenarios"), "fuzz.yaml"), src)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(64*len(src))+64<<20 {
			t.Fatalf("parsing %d bytes allocated %d bytes", len(src), grew)
		}
		if err != nil {
			if sc != nil {
				t.Fatal("a scenario and an error")
			}
			if len(err.Error()) > 1<<20 {
				t.Fatalf("error message of %d bytes", len(err.Error()))
			}
			return
		}
		if sc == nil {
			t.Fatal("no scenario and no error")
		}
	})
}
