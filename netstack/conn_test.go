package netstack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPipeAddressing(t *testing.T) {
	for _, tc := range []struct {
		name             string
		cli, srv         string
		wantCli, wantSrv string
	}{
		{"ipv4", "10.0.0.1", "10.0.0.2:80", "10.0.0.1:32768", "10.0.0.2:80"},
		{"ipv6", "fd00::1", "[fd00::2]:80", "[fd00::1]:32768", "[fd00::2]:80"},
		{"loopback range as hosts", "127.0.1.1", "127.0.2.1:8080", "127.0.1.1:32768", "127.0.2.1:8080"},
		{"same host", "10.0.0.1", "10.0.0.1:81", "10.0.0.1:32769", "10.0.0.1:81"},
		{"explicit client port", "10.0.0.1:5555", "10.0.0.2:80", "10.0.0.1:5555", "10.0.0.2:80"},
		{"ephemeral server port", "10.0.0.1", "10.0.0.2", "10.0.0.1:32768", "10.0.0.2:32768"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, Options{Seed: 1})
			if tc.name == "same host" {
				// The listener takes no ephemeral port; the first dial does.
				_, err := n.Host("10.0.0.1")
				require.NoError(t, err)
				h, _ := n.Host("10.0.0.1")
				h.nextPort++ // shows the counter is per host and in order
			}
			cli, srv := pipe(t, n, tc.cli, tc.srv)
			assert.Equal(t, netip.MustParseAddrPort(tc.wantCli), cli.LocalAddrPort())
			assert.Equal(t, netip.MustParseAddrPort(tc.wantSrv), cli.RemoteAddrPort())
			assert.Equal(t, cli.LocalAddrPort(), srv.RemoteAddrPort())
			assert.Equal(t, cli.RemoteAddrPort(), srv.LocalAddrPort())
			assert.Equal(t, StateEstablished, cli.Raw().State())
			assert.Equal(t, StateEstablished, srv.Raw().State())

			msg := []byte("ping " + tc.name)
			_, err := cli.Write(msg)
			require.NoError(t, err)
			got := make([]byte, len(msg))
			_, err = io.ReadFull(srv, got)
			require.NoError(t, err)
			assert.Equal(t, msg, got)
			_, err = srv.Write([]byte("pong"))
			require.NoError(t, err)
			_, err = io.ReadFull(cli, got[:4])
			require.NoError(t, err)
			assert.Equal(t, "pong", string(got[:4]))
			// The bytes crossed the link.
			assert.GreaterOrEqual(t, n.Stats().Frames, uint64(5))
		})
	}
}

func TestEphemeralPortsInOrder(t *testing.T) {
	n := newNet(t, Options{})
	l, err := n.Listen("10.0.0.2:80")
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		c, err := n.Dial("10.0.0.1", "10.0.0.2:80")
		require.NoError(t, err)
		assert.Equal(t, uint16(32768+i), c.LocalAddrPort().Port())
		s, err := l.AcceptConn()
		require.NoError(t, err)
		assert.Equal(t, c.LocalAddrPort(), s.RemoteAddrPort())
	}
}

func TestDialErrors(t *testing.T) {
	n := newNet(t, Options{})
	_, err := n.Host("10.0.0.2")
	require.NoError(t, err)
	for _, tc := range []struct {
		name, local, remote string
		want                error
	}{
		{"refused", "10.0.0.1", "10.0.0.2:9", errno.ECONNREFUSED},
		{"no such host", "10.0.0.1", "10.9.9.9:80", errno.EHOSTUNREACH},
		{"no port", "10.0.0.1", "10.0.0.2", errno.EINVAL},
		{"bad address", "10.0.0.1", "not-an-ip:80", errno.EINVAL},
		{"family mismatch", "10.0.0.1", "[fd00::9]:80", errno.EHOSTUNREACH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.Dial(tc.local, tc.remote)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want, err.Error())
		})
	}
}

func TestHalfClose(t *testing.T) {
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	_, err := cli.Write([]byte("request"))
	require.NoError(t, err)
	require.NoError(t, cli.Shutdown(SHUT_WR))

	got, err := io.ReadAll(srv) // data, then EOF from the FIN
	require.NoError(t, err)
	assert.Equal(t, "request", string(got))
	waitIdle(t, n)
	assert.Equal(t, StateCloseWait, srv.Raw().State())
	assert.Equal(t, StateFinWait2, cli.Raw().State())

	// The other direction still works.
	_, err = srv.Write([]byte("response"))
	require.NoError(t, err)
	buf := make([]byte, 8)
	_, err = io.ReadFull(cli, buf)
	require.NoError(t, err)
	assert.Equal(t, "response", string(buf))

	// Sending after SHUT_WR is EPIPE.
	_, err = cli.Write([]byte("late"))
	assert.ErrorIs(t, err, errno.EPIPE)

	require.NoError(t, srv.Close())
	_, err = cli.Read(buf)
	assert.Equal(t, io.EOF, err)
	waitIdle(t, n)
	assert.Equal(t, StateTimeWait, cli.Raw().State())
	require.NoError(t, cli.Close())
}

func TestShutdownRead(t *testing.T) {
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	require.NoError(t, srv.Shutdown(SHUT_RD))
	_, err := srv.Read(make([]byte, 4))
	assert.Equal(t, io.EOF, err)
	// The ingress queue still takes messages (the kernel's psock does
	// after SHUT_RD): reads return them, then EOF again.
	require.NoError(t, srv.Raw().Inject([]byte("late")))
	buf := make([]byte, 8)
	k, err := srv.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "late", string(buf[:k]))
	_, err = srv.Read(buf)
	assert.Equal(t, io.EOF, err)
	require.NoError(t, srv.Close())
	assert.ErrorIs(t, srv.Raw().Inject([]byte("x")), errno.EPIPE, "a closed Conn takes nothing")
	assert.ErrorIs(t, cli.Shutdown(42), errno.EINVAL)
}

func TestReset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(c *Conn) error
	}{
		{"abort", (*Conn).Abort},
		{"close with unread data", func(c *Conn) error { return c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, Options{})
			cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
			_, err := srv.Write([]byte("unread"))
			require.NoError(t, err)
			eventually(t, "data at client", func() bool { return cli.Raw().Readable() == 6 })
			require.NoError(t, tc.close(cli))
			waitIdle(t, n) // includes the peer handling the RST
			assert.Equal(t, StateClose, srv.Raw().State())
			_, err = srv.Read(make([]byte, 10))
			assert.ErrorIs(t, err, errno.ECONNRESET)
			var op *OpError
			require.ErrorAs(t, err, &op)
			assert.Equal(t, "read", op.Op)
			// Once reported, the reset leaves a closed socket: writes fail.
			_, err = srv.Write([]byte("x"))
			assert.Error(t, err)
			assert.Equal(t, StateClose, srv.Raw().State())
			waitIdle(t, n)
		})
	}
}

func TestNonBlockingAndPeek(t *testing.T) {
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	buf := make([]byte, 16)
	_, err := srv.RecvMsg(buf, MSG_DONTWAIT)
	assert.ErrorIs(t, err, errno.EAGAIN)

	_, err = cli.Write([]byte("abcdef"))
	require.NoError(t, err)
	eventually(t, "6 readable bytes", func() bool { return srv.Raw().Readable() == 6 })
	k, err := srv.RecvMsg(buf[:3], MSG_PEEK)
	require.NoError(t, err)
	assert.Equal(t, "abc", string(buf[:k]))
	assert.Equal(t, 6, srv.Raw().Readable(), "peek consumes nothing")
	k, err = srv.RecvMsg(buf, MSG_DONTWAIT)
	require.NoError(t, err)
	assert.Equal(t, "abcdef", string(buf[:k]))

	// Fill the send side with MSG_DONTWAIT until EAGAIN; the last
	// successful call may be partial.
	require.NoError(t, srv.SetSockoptInt(SOL_SOCKET, SO_RCVBUF, 4096))
	require.NoError(t, cli.SetSockoptInt(SOL_SOCKET, SO_SNDBUF, 4096))
	chunk := make([]byte, 64<<10)
	total, partial := 0, false
	for i := 0; i < 1000; i++ {
		k, err := cli.SendMsg([][]byte{chunk}, MSG_DONTWAIT)
		if err != nil {
			require.ErrorIs(t, err, errno.EAGAIN)
			break
		}
		if k < len(chunk) {
			partial = true
		}
		total += k
	}
	assert.True(t, partial, "a non-blocking send that does not fit is partial")
	assert.Greater(t, total, 0)
	waitIdle(t, n) // data stuck behind a full receiver is not "in flight"
	got := 0
	for got < total {
		k, err := srv.Read(chunk)
		require.NoError(t, err)
		got += k
	}
	assert.Equal(t, total, got)
}

func TestSockopts(t *testing.T) {
	n := newNet(t, Options{})
	cli, _ := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	for _, tc := range []struct {
		name       string
		level, opt int
		set, want  int
		wantSetErr error
	}{
		{"SO_RCVBUF doubled", SOL_SOCKET, SO_RCVBUF, 65536, 131072, nil},
		{"SO_SNDBUF doubled", SOL_SOCKET, SO_SNDBUF, 65536, 131072, nil},
		{"SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT, 100, 100, nil},
		{"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 1, 1, nil},
		{"TCP_NODELAY on", SOL_TCP, TCP_NODELAY, 1, 1, nil},
		{"TCP_NODELAY off", SOL_TCP, TCP_NODELAY, 0, 0, nil},
		{"unknown", SOL_TCP, 9999, 1, 0, errno.ENOPROTOOPT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cli.SetSockoptInt(tc.level, tc.opt, tc.set)
			if tc.wantSetErr != nil {
				assert.ErrorIs(t, err, tc.wantSetErr)
				return
			}
			require.NoError(t, err)
			v, err := cli.GetSockoptInt(tc.level, tc.opt)
			require.NoError(t, err)
			assert.Equal(t, tc.want, v)
		})
	}
}

func TestDeadlinesAndClose(t *testing.T) {
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	require.NoError(t, srv.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err := srv.Read(make([]byte, 4))
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.True(t, errors.As(err, &ne))
	assert.True(t, ne.Timeout())

	// Close wakes a blocked reader.
	require.NoError(t, srv.SetReadDeadline(time.Time{}))
	done := make(chan error, 1)
	go func() {
		_, err := srv.Read(make([]byte, 4))
		done <- err
	}()
	require.NoError(t, srv.Close())
	assert.ErrorIs(t, <-done, net.ErrClosed)
	assert.ErrorIs(t, srv.Close(), net.ErrClosed)
	_ = cli
}

func TestNetConnInterfaces(t *testing.T) {
	var _ net.Conn = (*Conn)(nil)
	var _ net.Listener = (*Listener)(nil)
	n := newNet(t, Options{})
	l, err := n.Listen("10.0.0.2:80")
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.2:80", l.Addr().String())
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	c, err := n.Dial("10.0.0.1", "10.0.0.2:80")
	require.NoError(t, err)
	_, err = io.WriteString(c, "echo")
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "echo", string(buf))
	require.NoError(t, l.Close())
	_, err = l.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
}

func TestDualStackHost(t *testing.T) {
	n := newNet(t, Options{})
	h, err := n.AddHost("10.0.0.5", "fd00::5")
	require.NoError(t, err)
	_, err = n.AddHost("10.0.0.5")
	assert.ErrorIs(t, err, errno.EADDRINUSE, "an address belongs to one host")
	_, err = n.AddHost("224.0.0.1")
	assert.ErrorIs(t, err, errno.EADDRNOTAVAIL)
	srv, err := n.AddHost("10.0.0.6", "fd00::6")
	require.NoError(t, err)
	l4, err := srv.Listen(false, 80)
	require.NoError(t, err)
	l6, err := srv.Listen(true, 80)
	require.NoError(t, err)
	for _, tc := range []struct {
		remote string
		l      *Listener
		local  string
	}{
		{"10.0.0.6:80", l4, "10.0.0.5"},
		{"[fd00::6]:80", l6, "fd00::5"},
	} {
		c, err := h.Dial(tc.remote)
		require.NoError(t, err)
		assert.Equal(t, tc.local, c.LocalAddrPort().Addr().String())
		s, err := tc.l.AcceptConn()
		require.NoError(t, err)
		assert.Equal(t, c.LocalAddrPort(), s.RemoteAddrPort())
		assert.Same(t, h, c.Raw().Host())
	}
	assert.Len(t, n.Hosts(), 2)
}
