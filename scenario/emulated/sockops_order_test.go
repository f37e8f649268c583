package emulated_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// TestSockopsOrderEveryTime runs the scenarios that pin down the order of
// sockops callbacks across both ends of a connection (client's
// ACTIVE_ESTABLISHED before the server's PASSIVE_ESTABLISHED, the pairing
// map a mesh builds from it, STATE_CB moves of both ends) many times: the
// kernel gives the same order every time, so skmsg must too. Their
// expectations were recorded on the kernel; TestRxCompare compares them
// with the live kernel.
func TestSockopsOrderEveryTime(t *testing.T) {
	for name, rounds := range map[string]int{"sockops_order": 100, "sockops_order_loopback": 20, "sockops_order_close": 20} {
		if testing.Short() {
			rounds /= 5
		}
		t.Run(name, func(t *testing.T) {
			sc, err := scenario.Load(testobj.Path("rx", name+".yaml"))
			require.NoError(t, err)
			for i := 0; i < rounds; i++ {
				res, err := scenario.Run(sc, &emulated.Backend{}, scenario.Options{})
				require.NoError(t, err)
				if !res.Passed() {
					_ = res.WriteText(os.Stdout)
				}
				require.True(t, res.Passed(), "round %d: %s", i, res.Summary())
			}
		})
	}
}
