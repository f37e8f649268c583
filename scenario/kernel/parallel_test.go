//go:build linux

package kernel_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// Sessions run side by side (each in its own network namespace) while a
// sockops session, whose cgroup the whole process joins, runs alone: all
// of them still see exactly their own traffic.
func TestParallelSessions(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
	names := []string{"sockops", "redirect_egress", "config", "sockops", "parser", "redirect_ingress"}
	results := make([]*scenario.Result, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = scenario.RunFile(testobj.Path("scenarios", n+".yaml"), kernel.New(), scenario.Options{})
		}()
	}
	wg.Wait()
	for i, n := range names {
		require.NoError(t, errs[i], n)
		assert.True(t, results[i].Passed(), "%s: %s", n, results[i].Summary())
	}
}
