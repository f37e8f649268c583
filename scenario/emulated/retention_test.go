package emulated_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// A long-lived process running scenario after scenario must not keep
// anything of the runs it finished: the heap stays flat over rounds of
// every bundled file (it once grew from 11 to 27 MB over 40 rounds, whole
// gVisor stacks kept alive by a scenario with tail calls).
func TestHeapFlatOverManyRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every bundled scenario many times")
	}
	files := bundledScenarios(t)
	var scs []*scenario.Scenario
	for _, f := range files {
		sc, err := scenario.Load(f)
		require.NoError(t, err)
		scs = append(scs, sc)
	}
	round := func() {
		for _, sc := range scs {
			_, err := scenario.Run(sc, &emulated.Backend{}, scenario.Options{})
			require.NoError(t, err)
		}
	}
	round() // warm up: pools, caches, lazily built tables
	round()
	base := heapInUse()
	const rounds = 15
	for i := 0; i < rounds; i++ {
		round()
	}
	grown := int64(heapInUse()) - int64(base)
	t.Logf("heap in use %d KiB after warm-up, %+d KiB after %d more rounds of %d files", base>>10, grown>>10, rounds, len(scs))
	require.Less(t, grown, int64(4<<20), "the heap grew by %d bytes over %d rounds", grown, rounds)
}
