// Package testobj locates the compiled BPF objects of testdata/ for tests,
// and checks that the committed objects match their C sources.
package testobj

import (
	"os"
	"path/filepath"
	"runtime"
)

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Path returns the absolute path of a file under testdata/.
func Path(elem ...string) string {
	return filepath.Join(append([]string{Root(), "testdata"}, elem...)...)
}

// Objects returns every committed object under testdata/ (recursively),
// except the verifier corpus (testdata/verifier): half of its programs are
// refused by the kernel on purpose, and package verifiercorpus lists them.
func Objects() ([]string, error) {
	var out []string
	corpus := Path("verifier")
	err := filepath.WalkDir(Path(), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == corpus {
			return filepath.SkipDir
		}
		if !d.IsDir() && filepath.Ext(p) == ".o" {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}
