//go:build linux

package oracle_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/oracle"
	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/runtime/scenario"
)

// TestBundledScenarios runs every scenario of testdata/scenarios on the
// kernel: their expectations are what the kernel does.
func TestBundledScenarios(t *testing.T) {
	if err := oracle.Available(); err != nil {
		t.Skip(err)
	}
	files, err := filepath.Glob(testobj.Path("scenarios", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			res, err := scenario.RunFile(f, oracle.New(), scenario.Options{})
			require.NoError(t, err)
			if !res.Passed() || testing.Verbose() {
				_ = res.WriteText(os.Stdout)
			}
			require.True(t, res.Passed(), res.Summary())
		})
	}
}
