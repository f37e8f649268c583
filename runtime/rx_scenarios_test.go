//go:build linux

package runtime_test

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

func rxScenarios(t *testing.T) []string {
	files, err := filepath.Glob(testobj.Path("rx", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// TestRxScenariosKernel runs the receive-path scenarios on the kernel:
// their expectations are what the kernel does.
func TestRxScenariosKernel(t *testing.T) {
	if err := oracle.Available(); err != nil {
		t.Skip(err)
	}
	for _, f := range rxScenarios(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if strings.HasSuffix(name, "_probe") && os.Getenv("SKMSG_PROBE") == "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			res, err := scenario.RunFile(f, oracle.New(), scenario.Options{})
			require.NoError(t, err)
			if !res.Passed() || testing.Verbose() {
				_ = res.WriteText(os.Stdout)
			}
			require.True(t, res.Passed(), res.Summary())
		})
	}
}

// TestRxScenarios runs the same scenarios on skmsg: every expectation the
// kernel meets must hold here too.
func TestRxScenarios(t *testing.T) {
	for _, f := range rxScenarios(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if strings.HasSuffix(name, "_probe") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			res, err := scenario.RunFile(f, rxBackend{}, scenario.Options{})
			require.NoError(t, err)
			if !res.Passed() || testing.Verbose() {
				_ = res.WriteText(os.Stdout)
			}
			require.True(t, res.Passed(), res.Summary())
		})
	}
}
