package scenario_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/runtime/scenario"
)

// skmsgPending lists the bundled scenarios skmsg cannot pass yet, with the
// reason. An unlisted one must pass; a listed one that passes is reported
// so that it is taken off the list.
var skmsgPending = map[string]string{}

func bundledScenarios(t *testing.T) []string {
	files, err := filepath.Glob(testobj.Path("scenarios", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func TestBundledScenariosOnSkmsg(t *testing.T) {
	for _, f := range bundledScenarios(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			res, err := scenario.RunFile(f, &scenario.Skmsg{}, scenario.Options{})
			require.NoError(t, err)
			if why, pending := skmsgPending[name]; pending {
				if res.Passed() {
					t.Logf("%s passes on skmsg now: take it off skmsgPending (%s)", name, why)
				} else {
					t.Logf("not yet on skmsg (%s):\n%s", why, res.Summary())
				}
				return
			}
			require.True(t, res.Passed(), res.Summary())
		})
	}
}
