package runtime_test

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/runtime"
)

// A connected Socket is a net.Conn, so code written against net.Conn can
// be tested on skmsg's sockets.
var _ net.Conn = (*runtime.Socket)(nil)

// guard bounds a call that must return because of a deadline: if the
// deadline were ignored the call would block for good, and the test fails
// saying so instead of hanging.
func guard[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still blocked 10 s after its deadline", what)
		var zero T
		return zero
	}
}

type ioResult struct {
	n   int
	err error
}

// A blocked Read or Write returns once its deadline passes, with an error
// that is a timeout (net.Error) and os.ErrDeadlineExceeded, whether or not
// the socket's reads and writes go through BPF programs.
func TestSocketDeadlines(t *testing.T) {
	tests := []struct {
		name string
		// writeTimes: a blocked Write reports its deadline. Through an
		// sk_msg verdict a write cut short by the deadline returns the
		// count sent without the timeout (docs/differences.md).
		writeTimes bool
		// setup returns a connected pair; srv's peer (cli) never writes.
		setup func(t *testing.T, rt *runtime.Runtime) (cli, srv *runtime.Socket)
	}{
		{"plain TCP", true, func(t *testing.T, rt *runtime.Runtime) (*runtime.Socket, *runtime.Socket) {
			cli, srv, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
			require.NoError(t, err)
			return cli, srv
		}},
		{"in a sockmap with an sk_msg verdict", false, func(t *testing.T, rt *runtime.Runtime) (*runtime.Socket, *runtime.Socket) {
			obj, err := loader.Open(testobj.Path("runtime", "sockmap_msg.o"))
			require.NoError(t, err)
			coll, err := rt.Load(obj)
			require.NoError(t, err)
			sm, ok := coll.SockMap("sock_map")
			require.True(t, ok, "sockmap_msg.o has sock_map")
			require.NoError(t, rt.Attach(coll.Programs["msg_pass"], sm, ebpf.AttachSkMsgVerdict))
			cli, srv, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
			require.NoError(t, err)
			require.NoError(t, sm.Update(uint32(0), cli, runtime.UpdateAny))
			require.NoError(t, sm.Update(uint32(1), srv, runtime.UpdateAny))
			return cli, srv
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := runtime.New(runtime.Options{})
			defer rt.Close()
			cli, srv := tt.setup(t, rt)

			require.NoError(t, srv.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
			r := guard(t, "Read", func() ioResult {
				n, err := srv.Read(make([]byte, 16))
				return ioResult{n, err}
			})
			requireTimeout(t, r.err)
			require.Zero(t, r.n)

			// Nothing reads srv, so a large write fills the windows and
			// blocks; the deadline ends it with what was queued.
			big := make([]byte, 8<<20)
			require.NoError(t, cli.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
			w := guard(t, "Write", func() ioResult {
				n, err := cli.Write(big)
				return ioResult{n, err}
			})
			require.Less(t, w.n, len(big))
			if tt.writeTimes {
				requireTimeout(t, w.err)
			}

			// Clearing the deadline lets a read see the data again.
			require.NoError(t, srv.SetReadDeadline(time.Time{}))
			n, err := srv.Read(make([]byte, 1))
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})
	}
}

func requireTimeout(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "errors.Is(%v, os.ErrDeadlineExceeded)", err)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "%v is a net.Error timeout", err)
}
