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

// eventually waits until cond holds, failing after a deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 100*time.Microsecond, "timed out waiting for %s", what)
}
