package emulated_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// manyConnections is a scenario with n connections to one listener, each
// put into a sockhash by a sockops program on both ends.
func manyConnections(t testing.TB, n int) *scenario.Scenario {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %d connections\nobject: sockops_many.o\nprograms:\n  - {program: sockops_many, attach: sockops}\n", n)
	b.WriteString("listeners:\n  - {name: l, addr: 10.0.0.2:80}\nsteps:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - connect: {name: c%d, to: l, client: 10.0.0.1}\n", i)
	}
	fmt.Fprintf(&b, "  - lookup: {map: inserted, key: u32:0, value: u64:%d}\n", 2*n)
	sc, err := scenario.ParseBytes(testobj.Path("bench", "many.yaml"), []byte(b.String()))
	require.NoError(t, err)
	require.NoError(t, sc.Validate())
	return sc
}

// TestManySockopsConnections: a few hundred sockops-inserted connections in
// one scenario, every one of them in the map.
func TestManySockopsConnections(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	res, err := scenario.Run(manyConnections(t, n), &emulated.Backend{}, scenario.Options{})
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Summary())
}

// BenchmarkSockopsConnections measures the cost per connection at several
// scales: ns/conn must stay about the same (linear time). Run with
// -benchtime=1x for the 10,000-connection case.
func BenchmarkSockopsConnections(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			sc := manyConnections(b, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := scenario.Run(sc, &emulated.Backend{}, scenario.Options{})
				require.NoError(b, err)
				require.True(b, res.Passed(), res.Summary())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/conn")
		})
	}
}
