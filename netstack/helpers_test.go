package netstack

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newNet(t testing.TB, opts Options) *Network {
	t.Helper()
	n := New(opts)
	t.Cleanup(func() { n.Close() })
	return n
}

func pipe(t testing.TB, n *Network, cli, srv string) (*Conn, *Conn) {
	t.Helper()
	c, s, err := n.Pipe(cli, srv)
	require.NoError(t, err)
	return c, s
}

func waitIdle(t testing.TB, n *Network) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, n.WaitIdle(ctx))
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
