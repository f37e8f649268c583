//go:build linux

package kernel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The resting reference count WaitIdle learns for each socket, and when a
// count above it keeps the network from being called idle.
func TestSockRefsObserve(t *testing.T) {
	type obs struct {
		at   time.Duration // since the first observation
		refs int           // reference count, timers taken off
		busy bool          // expected
	}
	tests := []struct {
		name string
		obs  []obs
	}{
		{"psock socket at rest", []obs{{0, 2, false}, {10 * time.Millisecond, 2, false}}},
		{"a queued redirect holds one more until delivered", []obs{
			{0, 2, false}, {5 * time.Millisecond, 3, true}, {100 * time.Millisecond, 3, true}, {150 * time.Millisecond, 2, false},
		}},
		{"first seen while busy: the lower count becomes the resting one", []obs{
			{0, 3, false}, {5 * time.Millisecond, 2, false}, {10 * time.Millisecond, 3, true},
		}},
		{"a holder that stays is taken as at rest after refAdopt", []obs{
			{0, 2, false}, {5 * time.Millisecond, 3, true}, {5*time.Millisecond + refAdopt, 3, false}, {time.Second, 3, false},
		}},
		{"a socket without a psock is never waited for", []obs{
			{0, 1, false}, {5 * time.Millisecond, 2, false}, {10 * time.Millisecond, 3, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sockRefs{resting: -1}
			start := time.Unix(1000, 0)
			for i, o := range tt.obs {
				assert.Equal(t, o.busy, r.observe(o.refs, start.Add(o.at)), "observation %d (%d refs at %v)", i, o.refs, o.at)
			}
		})
	}
}
