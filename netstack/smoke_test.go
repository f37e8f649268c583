package netstack

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSmoke(t *testing.T) {
	for _, tc := range []struct{ cli, srv string }{
		{"10.0.0.1", "10.0.0.2:80"},
		{"127.0.1.1", "127.0.2.1:8080"},
		{"fd00::1", "[fd00::2]:80"},
		{"10.0.0.1", "10.0.0.1:81"},
	} {
		n := New(Options{Seed: 1})
		cli, srv, err := n.Pipe(tc.cli, tc.srv)
		require.NoError(t, err, tc)
		_, err = cli.Write([]byte("hello"))
		require.NoError(t, err)
		buf := make([]byte, 10)
		k, err := srv.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "hello", string(buf[:k]))
		require.NoError(t, n.WaitIdleTimeout(5*time.Second))
		require.NoError(t, cli.CloseWrite())
		k, err = srv.Read(buf)
		require.Equal(t, io.EOF, err, k)
		require.NoError(t, n.WaitIdleTimeout(5*time.Second))
		t.Log(tc, cli.State(), srv.State(), n.Stats())
		n.Close()
	}
}
