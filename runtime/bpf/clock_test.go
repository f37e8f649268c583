package bpf

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSourceClock reads one clock in sequence: each reading follows the
// source, but is always past the one before, since programs take the
// difference of two readings as a duration.
func TestSourceClock(t *testing.T) {
	var src atomic.Uint64
	src.Store(1_000_000_000)
	c := &SourceClock{Source: src.Load}
	for i, r := range []struct {
		step uint64
		// jump moves the source before the reading; want is the reading.
		jump, want uint64
	}{
		{0, 0, 1_000_000_000},         // the source itself
		{0, 0, 1_000_001_000},         // the source stands still: one 1µs step
		{0, 0, 1_000_002_000},         // and another
		{0, 5_000_000, 1_005_000_000}, // the source moved past: followed
		{10, 0, 1_005_000_010},        // a custom step
	} {
		src.Add(r.jump)
		c.Step = r.step
		require.Equal(t, r.want, c.Now(), "reading %d", i+1)
	}
}
