package emulated_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/cover"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// TestCoverage: one recorder across two scenario files adds up the runs of
// the programs they share and lists programs that never ran.
func TestCoverage(t *testing.T) {
	rec := cover.NewRecorder()
	for _, f := range []string{"redirect_ingress.yaml", "redirect_egress.yaml"} {
		res, err := scenario.RunFile(scenarioPath(f), &emulated.Backend{Coverage: rec}, scenario.Options{})
		require.NoError(t, err)
		require.True(t, res.Passed(), res.Summary())
	}
	prof := rec.Profile()
	byName := map[string]*cover.Program{}
	for _, p := range prof.Programs {
		byName[p.Name] = p
		assert.Equal(t, scenarioPath("redirect.o"), p.Object)
	}
	require.Len(t, byName, 2, "both programs of redirect.o, each once")
	for _, name := range []string{"msg_redir_ingress", "msg_redir_egress"} {
		p := byName[name]
		require.NotNil(t, p, name)
		assert.NotZero(t, p.Runs, name)
		assert.Equal(t, p.Lines, p.LinesHit, "%s: every line ran", name)
		assert.Equal(t, 1, p.BranchesHit, "%s: the counter lookup never failed", name)
	}
	prof.FindSources()
	require.NotEmpty(t, prof.Files)
	for _, f := range prof.Files {
		assert.NotEmpty(t, f.Path, "source of %s found next to the object", f.Name)
	}
}

// BenchmarkCoverage runs bundled scenarios with and without a coverage
// recorder, alternating in one process, and reports how much slower the
// covered runs are (x-plain; the issue allows at most 2).
func BenchmarkCoverage(b *testing.B) {
	for _, file := range []string{"redirect_ingress.yaml", "parser.yaml", "config.yaml"} {
		sc, err := scenario.Load(scenarioPath(file))
		require.NoError(b, err)
		rec := cover.NewRecorder()
		run := func(be *emulated.Backend) time.Duration {
			start := time.Now()
			res, err := scenario.Run(sc, be, scenario.Options{})
			if err != nil || !res.Passed() {
				b.Fatalf("%v %s", err, res.Summary())
			}
			return time.Since(start)
		}
		b.Run(file, func(b *testing.B) {
			var plain, covered time.Duration
			for b.Loop() {
				plain += run(&emulated.Backend{})
				covered += run(&emulated.Backend{Coverage: rec})
			}
			b.ReportMetric(float64(covered)/float64(plain), "x-plain")
			b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "plain-ns/op")
		})
	}
}
