package emulated_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/kernelbuild"
	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/runtime"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// kernelBuilds are the builds testdata/builds has a scenario for, by file
// suffix, with the runtime option that emulates each.
var kernelBuilds = map[string]func(*runtime.KernelBuild){
	"current": func(*runtime.KernelBuild) {},
	"earlier": func(b *runtime.KernelBuild) {
		*b = runtime.KernelBuild{RemotePortWholeHalf: true, ParserMayPull: true, ListenerSendRunsMsg: true}
	},
}

// buildScenarios lists testdata/builds: behaviour -> build -> file.
func buildScenarios(t *testing.T) map[string]map[string]string {
	files, err := filepath.Glob(testobj.Path("builds", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]map[string]string{}
	for _, f := range files {
		behaviour, build, ok := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".yaml"), ".")
		require.True(t, ok, "%s: want BEHAVIOUR.BUILD.yaml", f)
		require.Contains(t, kernelBuilds, build, f)
		if out[behaviour] == nil {
			out[behaviour] = map[string]string{}
		}
		out[behaviour][build] = f
	}
	return out
}

// TestKernelBuildEmulation runs each build's scenario of every behaviour
// that differs between kernel builds on skmsg emulating that build, and
// checks that the other build's scenario then fails: skmsg can be either.
func TestKernelBuildEmulation(t *testing.T) {
	for behaviour, files := range buildScenarios(t) {
		for build, set := range kernelBuilds {
			t.Run(behaviour+"/"+build, func(t *testing.T) {
				var kb runtime.KernelBuild
				set(&kb)
				for other, f := range files {
					res, err := scenario.RunFile(f, &emulated.Backend{Kernel: kb}, scenario.Options{})
					require.NoError(t, err)
					if other == build {
						if !res.Passed() {
							_ = res.WriteText(os.Stdout)
						}
						require.True(t, res.Passed(), res.Summary())
					} else {
						require.False(t, res.Passed(), "the %s build's scenario passes on skmsg emulating the %s build", other, build)
					}
				}
			})
		}
	}
}

// TestKernelBuildProbe checks the probe against the running kernel: the
// scenario of the build it found passes on the kernel and the other
// build's fails, for every behaviour.
func TestKernelBuildProbe(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
	kb, err := kernelbuild.Probe()
	require.NoError(t, err)
	t.Logf("running kernel: %s", kb)
	for behaviour, files := range buildScenarios(t) {
		t.Run(behaviour, func(t *testing.T) {
			for build, f := range files {
				var want runtime.KernelBuild
				kernelBuilds[build](&want)
				res, err := scenario.RunFile(f, kernel.New(), scenario.Options{})
				require.NoError(t, err)
				matches := probedAs(t, behaviour, kb) == probedAs(t, behaviour, want)
				if matches && !res.Passed() {
					_ = res.WriteText(os.Stdout)
				}
				require.Equal(t, matches, res.Passed(), "%s on the kernel: %s", filepath.Base(f), res.Summary())
			}
		})
	}
}

// probedAs is the variant of one behaviour in b.
func probedAs(t *testing.T, behaviour string, b runtime.KernelBuild) bool {
	switch behaviour {
	case "remote_port_half":
		return b.RemotePortWholeHalf
	case "parser_pull":
		return b.ParserMayPull
	case "listener_send":
		return b.ListenerSendRunsMsg
	}
	t.Fatalf("testdata/builds/%s.*.yaml: no KernelBuild field for this behaviour", behaviour)
	return false
}
