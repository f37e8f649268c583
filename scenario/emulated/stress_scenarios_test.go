//go:build linux

package emulated_test

import (
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
	for name, f := range stressScenarios(t) {
		t.Run(name, func(t *testing.T) { run(t, f, emu != nil) })
	}
	for name, f := range stressScenarios(t, "skmsg_only") {
		t.Run("skmsg_only/"+name, func(t *testing.T) { run(t, f, false) })
	}
}
