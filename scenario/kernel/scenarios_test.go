//go:build linux

package kernel_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/kernelbuild"
	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// TestBundledScenarios runs every scenario of testdata/scenarios on the
// kernel, where every expectation must hold (they are what the kernel
// does), and on skmsg, whose observations must be the kernel's: return
// values, errnos, bytes per socket, lookups and final map contents.
// Scenarios under pending/ show kernel behaviour skmsg does not reproduce
// yet: their differences are logged, and one that agrees is reported so
// that it moves up.
func TestBundledScenarios(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
	build, err := kernelbuild.Probe()
	require.NoError(t, err)
	t.Logf("running kernel: %s", build)
	files, err := filepath.Glob(testobj.Path("scenarios", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	pending, err := filepath.Glob(testobj.Path("scenarios", "pending", "*.yaml"))
	require.NoError(t, err)
	if !testing.Short() {
		// Scenarios too big for every skmsg-only run (hundreds of
		// connections) are compared here.
		large, err := filepath.Glob(testobj.Path("scenarios", "large", "*.yaml"))
		require.NoError(t, err)
		files = append(files, large...)
	}
	for _, f := range append(files, pending...) {
		isPending := filepath.Base(filepath.Dir(f)) == "pending"
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if dir := filepath.Base(filepath.Dir(f)); dir != "scenarios" {
			name = dir + "/" + name
		}
		t.Run(name, func(t *testing.T) {
			sc, err := scenario.Load(f)
			require.NoError(t, err)
			c, err := scenario.Compare(sc, kernel.New(), &emulated.Backend{Kernel: build}, scenario.Options{})
			require.NoError(t, err)
			if !c.A.Passed() || testing.Verbose() {
				_ = c.A.WriteText(os.Stdout)
			}
			require.True(t, c.A.Passed(), c.A.Summary())
			var diffs []string
			for _, d := range c.Differences {
				diffs = append(diffs, d.String())
			}
			if isPending {
				if len(diffs) == 0 {
					t.Logf("skmsg now agrees with the kernel on %s: move it out of pending/", name)
				} else {
					t.Logf("not yet on skmsg: kernel (a) and skmsg (b) differ:\n%s", strings.Join(diffs, "\n"))
				}
				return
			}
			assert.Empty(t, diffs, "kernel (a) and skmsg (b) differ:\n%s", strings.Join(diffs, "\n"))
		})
	}
}
