package netstack

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exchange sends n request/response pairs of growing size, waiting for the
// network to go idle after each step, and checks every byte.
func exchange(t *testing.T, nw *Network, cli, srv *Conn, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		req := bytes.Repeat([]byte{byte('a' + i%26)}, 100*(i+1))
		_, err := cli.Write(req)
		require.NoError(t, err)
		got := make([]byte, len(req))
		_, err = io.ReadFull(srv, got)
		require.NoError(t, err)
		require.Equal(t, req, got)
		_, err = srv.Write(got[:10])
		require.NoError(t, err)
		_, err = io.ReadFull(cli, got[:10])
		require.NoError(t, err)
		waitIdle(t, nw)
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     Faults
		path  bool // only client->server
		check func(t *testing.T, s LinkStats)
	}{
		{"loss one direction", Faults{Loss: 0.3}, true, func(t *testing.T, s LinkStats) {
			assert.NotZero(t, s.Lost)
		}},
		{"duplication", Faults{Duplicate: 0.5}, false, func(t *testing.T, s LinkStats) {
			assert.NotZero(t, s.Duplicated)
			assert.Equal(t, s.Frames+s.Duplicated, s.Delivered)
		}},
		{"reordering", Faults{Reorder: 0.5}, false, func(t *testing.T, s LinkStats) {
			assert.NotZero(t, s.Reordered)
			assert.Equal(t, s.Frames, s.Delivered)
		}},
		{"delay and jitter", Faults{Delay: time.Millisecond, Jitter: time.Millisecond}, false, func(t *testing.T, s LinkStats) {
			assert.Equal(t, s.Frames, s.Delayed)
			assert.Equal(t, s.Frames, s.Delivered)
		}},
		{"everything", Faults{Loss: 0.1, Duplicate: 0.1, Reorder: 0.1, Delay: 200 * time.Microsecond}, false, func(t *testing.T, s LinkStats) {
			assert.NotZero(t, s.Lost)
			assert.NotZero(t, s.Duplicated)
			assert.NotZero(t, s.Reordered)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, Options{Seed: 11, MinRTO: 5 * time.Millisecond})
			// Handshake first: a lost SYN costs gVisor's 1s initial RTO.
			cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
			start := n.Stats()
			if tc.path {
				require.NoError(t, n.SetPathFaults("10.0.0.1", "10.0.0.2", tc.f))
			} else {
				require.NoError(t, n.SetFaults(tc.f))
			}
			exchange(t, n, cli, srv, 15)
			s := n.Stats()
			s.Frames -= start.Frames
			s.Delivered -= start.Delivered
			tc.check(t, s)
			require.NoError(t, n.SetFaults(Faults{}))
			require.NoError(t, n.SetPathFaults("10.0.0.1", "10.0.0.2", Faults{}))
			before := n.Stats()
			exchange(t, n, cli, srv, 3)
			after := n.Stats()
			assert.Equal(t, before.Lost, after.Lost, "faults cleared")
			assert.Equal(t, before.Duplicated, after.Duplicated, "faults cleared")
		})
	}
}

func TestFaultsReproducible(t *testing.T) {
	// The fate of the i-th frame in a direction depends only on the seed,
	// the direction and i; TCP's own timing may still change which
	// segment is the i-th.
	decisions := func(seed int64, reverse bool) []decision {
		n := newNet(t, Options{Seed: seed})
		require.NoError(t, n.SetFaults(Faults{Loss: 0.2, Duplicate: 0.2, Reorder: 0.2, Jitter: time.Millisecond}))
		a, err := n.Host("10.0.0.1")
		require.NoError(t, err)
		b, err := n.Host("10.0.0.2")
		require.NoError(t, err)
		if reverse {
			a, b = b, a
		}
		p := n.link.faults.Load().path(a, b)
		require.NotNil(t, p)
		var out []decision
		p.mu.Lock()
		defer p.mu.Unlock()
		for i := 0; i < 200; i++ {
			out = append(out, p.decideLocked())
		}
		return out
	}
	a := decisions(1, false)
	assert.True(t, reflect.DeepEqual(a, decisions(1, false)), "same seed and direction: same fates")
	assert.False(t, reflect.DeepEqual(a, decisions(2, false)), "another seed")
	assert.False(t, reflect.DeepEqual(a, decisions(1, true)), "the other direction")
	lost := 0
	for _, d := range a {
		if d.lose {
			lost++
		}
	}
	assert.InDelta(t, 40, lost, 20)
}

func TestFaultValidation(t *testing.T) {
	n := newNet(t, Options{})
	for _, f := range []Faults{{Loss: 1.5}, {Duplicate: -0.1}, {Delay: -time.Second}, {Reorder: 2}} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			assert.Error(t, n.SetFaults(f))
			assert.Error(t, n.SetPathFaults("10.0.0.1", "10.0.0.2", f))
		})
	}
	assert.Error(t, n.SetPathFaults("nonsense", "10.0.0.2", Faults{Loss: 0.1}))
}
