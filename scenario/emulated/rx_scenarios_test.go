//go:build linux

package emulated_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/kernelbuild"
	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// The receive-path scenarios (testdata/rx): stream parser framing,
// verdicts, verdict-only mode, skb helpers, sockops and the service-mesh
// pattern. Their expectations are what the kernel does.

func rxScenarios(t *testing.T) map[string]string {
	files, err := filepath.Glob(testobj.Path("rx", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]string{}
	for _, f := range files {
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = f
	}
	return out
}

// TestRxScenarios runs the scenarios on skmsg: every expectation the
// kernel meets must hold here too.
func TestRxScenarios(t *testing.T) {
	for name, f := range rxScenarios(t) {
		t.Run(name, func(t *testing.T) {
			res, err := scenario.RunFile(f, &emulated.Backend{}, scenario.Options{})
			require.NoError(t, err)
			if !res.Passed() || testing.Verbose() {
				_ = res.WriteText(os.Stdout)
			}
			require.True(t, res.Passed(), res.Summary())
		})
	}
}

// skmsgLikeKernel returns the skmsg backend emulating the build of the
// running kernel, and says in the test output which build that is.
func skmsgLikeKernel(t *testing.T) *emulated.Backend {
	t.Helper()
	b, err := kernelbuild.Probe()
	require.NoError(t, err)
	t.Logf("running kernel: %s", b)
	return &emulated.Backend{Kernel: b}
}

// TestRxCompare runs each scenario on the kernel and on skmsg: the
// kernel must meet the file's expectations, and the two must agree on
// every observation (returns, errnos, bytes per socket, lookups) and on
// every map's contents at the end.
func TestRxCompare(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
	emu := skmsgLikeKernel(t)
	for name, f := range rxScenarios(t) {
		t.Run(name, func(t *testing.T) {
			sc, err := scenario.Load(f)
			require.NoError(t, err)
			cmp, err := scenario.Compare(sc, kernel.New(), emu, scenario.Options{})
			require.NoError(t, err)
			if !cmp.A.Passed() {
				_ = cmp.A.WriteText(os.Stdout)
			}
			require.True(t, cmp.A.Passed(), "kernel: %s", cmp.A.Summary())
			for _, d := range cmp.Differences {
				t.Errorf("%s", d)
			}
		})
	}
}
