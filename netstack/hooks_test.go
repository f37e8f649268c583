package netstack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRcvlowat(t *testing.T) {
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	require.NoError(t, srv.SetSockoptInt(SOL_SOCKET, SO_RCVLOWAT, 4))
	go func() {
		cli.Write([]byte("ab"))
		n.WaitIdle(context.Background())
		cli.Write([]byte("cd"))
	}()
	buf := make([]byte, 16)
	k, err := srv.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "abcd", string(buf[:k]), "a blocking read waits for SO_RCVLOWAT bytes")
}

func TestSendHook(t *testing.T) {
	n := newNet(t, Options{})
	a, aPeer := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	b, bPeer := pipe(t, n, "10.0.0.1", "10.0.0.3:80")

	// Verdict by first byte: 'p' pass, 'r' redirect to b's egress,
	// 'i' redirect into b's own ingress, anything else drop.
	a.Raw().SetSendHook(func(c *Conn, iov [][]byte, flags int) (int, error) {
		var msg []byte
		for _, v := range iov {
			msg = append(msg, v...)
		}
		switch msg[0] {
		case 'p':
			return c.Raw().SendTCP(msg, flags)
		case 'r':
			return b.Raw().SendTCP(msg, flags)
		case 'i':
			return len(msg), b.Raw().Inject(msg)
		}
		return 0, errno.EACCES
	})
	for _, tc := range []struct {
		msg     string
		reader  *Conn
		wantErr error
	}{
		{"pass", aPeer, nil},
		{"redirect", bPeer, nil},
		{"ingress", b, nil},
		{"drop", nil, errno.EACCES},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			k, err := a.Write([]byte(tc.msg))
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(tc.msg), k)
			got := make([]byte, len(tc.msg))
			_, err = io.ReadFull(tc.reader, got)
			require.NoError(t, err)
			assert.Equal(t, tc.msg, string(got))
		})
	}
	// SendMsg hands the hook the iovec as given.
	a.Raw().SetSendHook(func(c *Conn, iov [][]byte, flags int) (int, error) {
		assert.Len(t, iov, 2)
		assert.Equal(t, MSG_DONTWAIT, flags)
		return c.Raw().SendTCPv(iov, flags)
	})
	k, err := a.SendMsg([][]byte{[]byte("pa"), []byte("ss")}, MSG_DONTWAIT)
	require.NoError(t, err)
	assert.Equal(t, 4, k)
	got := make([]byte, 4)
	_, err = io.ReadFull(aPeer, got)
	require.NoError(t, err)
	assert.Equal(t, "pass", string(got))

	a.Raw().SetSendHook(nil)
	_, err = a.Write([]byte("x"))
	require.NoError(t, err)
	waitIdle(t, n)
	assert.Equal(t, 1, aPeer.Raw().Readable())
}

// A recv hook that frames 4-byte records and delivers them upper-cased to
// the application, like a stream parser plus verdict would.
func TestRecvHookAndIngress(t *testing.T) {
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	var mu sync.Mutex
	var calls int
	var pending []byte
	srv.Raw().SetRecvHook(func(c *Conn) {
		mu.Lock()
		calls++
		mu.Unlock()
		buf := make([]byte, 4096)
		for {
			k, err := c.Raw().RecvTCP(buf)
			if k > 0 {
				pending = append(pending, buf[:k]...)
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					c.Raw().Inject(bytes.ToUpper(pending)) // the partial tail
					pending = nil
					c.Raw().CloseIngress(nil)
				}
				break
			}
		}
		for len(pending) >= 4 {
			assert.NoError(t, c.Raw().Inject(bytes.ToUpper(pending[:4])))
			pending = pending[4:]
		}
	})
	_, err := cli.Write([]byte("abcdefg"))
	require.NoError(t, err)
	waitIdle(t, n)
	assert.Equal(t, 4, srv.Raw().Readable(), "only framed records are visible")
	assert.Equal(t, 0, srv.Raw().TCPQueued(), "the hook took the bytes out of TCP")
	got := make([]byte, 4)
	_, err = io.ReadFull(srv, got)
	require.NoError(t, err)
	assert.Equal(t, "ABCD", string(got))

	require.NoError(t, cli.Shutdown(SHUT_WR))
	rest, err := io.ReadAll(srv)
	require.NoError(t, err)
	assert.Equal(t, "EFG", string(rest))
	mu.Lock()
	assert.GreaterOrEqual(t, calls, 2)
	mu.Unlock()
}

// TestRecvHookEOFWaitsForHook: the peer's FIN must not overtake data a recv
// hook has taken from TCP and not yet injected (Example_hooks once read ""
// instead of "HELLO" that way). The hook here holds the bytes until the
// test has seen TCP's receive side close.
func TestRecvHookEOFWaitsForHook(t *testing.T) {
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	took := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	srv.Raw().SetRecvHook(func(c *Conn) {
		buf := make([]byte, 64)
		k, err := c.Raw().RecvTCP(buf)
		if k > 0 {
			once.Do(func() { close(took) })
			<-release
			assert.NoError(t, c.Raw().Inject(bytes.ToUpper(buf[:k])))
		}
		if errors.Is(err, io.EOF) {
			c.Raw().CloseIngress(nil)
		}
	})
	_, err := cli.Write([]byte("hello"))
	require.NoError(t, err)
	<-took
	require.NoError(t, cli.CloseWrite())
	eventually(t, "the FIN to reach the server", func() bool { return srv.Raw().State() == StateCloseWait })
	_, err = srv.RecvMsg(make([]byte, 16), MSG_DONTWAIT)
	assert.ErrorIs(t, err, errno.EAGAIN, "no EOF while the hook still holds data")
	close(release)
	got, err := io.ReadAll(srv)
	require.NoError(t, err)
	assert.Equal(t, "HELLO", string(got))
}

func TestIngressBeforeTCP(t *testing.T) {
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	_, err := cli.Write([]byte("tcp"))
	require.NoError(t, err)
	waitIdle(t, n)
	require.NoError(t, srv.Raw().Inject([]byte("ingress")))
	assert.Equal(t, 10, srv.Raw().Readable())
	got := make([]byte, 10)
	_, err = io.ReadFull(srv, got)
	require.NoError(t, err)
	assert.Equal(t, "ingresstcp", string(got))

	// The consume hook hears about reads that took bytes, not peeks.
	var consumed int
	srv.Raw().SetConsumeHook(func(c *Conn) { consumed++ })
	require.NoError(t, srv.Raw().Inject([]byte("xy")))
	_, err = srv.RecvMsg(got[:1], MSG_PEEK)
	require.NoError(t, err)
	assert.Equal(t, 0, consumed)
	_, err = io.ReadFull(srv, got[:2])
	require.NoError(t, err)
	assert.Equal(t, 1, consumed)
	srv.Raw().SetConsumeHook(nil)

	// Inject wakes a blocked reader.
	done := make(chan string)
	go func() {
		b := make([]byte, 8)
		k, _ := srv.Read(b)
		done <- string(b[:k])
	}()
	require.NoError(t, srv.Raw().Inject([]byte("wake")))
	assert.Equal(t, "wake", <-done)
	require.NoError(t, srv.Close())
	assert.ErrorIs(t, srv.Raw().Inject([]byte("x")), errno.EPIPE)
}

func TestLifecycleHooks(t *testing.T) {
	n := newNet(t, Options{})
	var mu sync.Mutex
	var events []string
	rec := func(s string) {
		mu.Lock()
		events = append(events, s)
		mu.Unlock()
	}
	n.SetHooks(Hooks{
		OnEstablished: func(c *Conn, active bool) {
			assert.Equal(t, StateEstablished, c.Raw().State())
			if active {
				rec("active " + c.LocalAddrPort().String())
			} else {
				rec("passive " + c.LocalAddrPort().String())
			}
		},
		OnListen: func(l *Listener) { rec("listen " + l.AddrPort().String()) },
		OnClose:  func(c *Conn) { rec("close " + c.LocalAddrPort().String()) },
	})
	l, err := n.Listen("10.0.0.2:80")
	require.NoError(t, err)
	c, err := n.Dial("10.0.0.1", "10.0.0.2:80")
	require.NoError(t, err)
	mu.Lock()
	assert.Contains(t, events, "active 10.0.0.1:32768", "active side runs before Dial returns")
	mu.Unlock()
	// The passive side runs when the handshake completes, without Accept.
	waitIdle(t, n)
	mu.Lock()
	assert.Contains(t, events, "passive 10.0.0.2:80")
	mu.Unlock()
	s, err := l.AcceptConn()
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, s.Close())
	mu.Lock()
	assert.Equal(t, "listen 10.0.0.2:80", events[0])
	assert.Equal(t, []string{"close 10.0.0.1:32768", "close 10.0.0.2:80"}, events[len(events)-2:])
	mu.Unlock()
}

func TestWaitIdle(t *testing.T) {
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")

	n.Busy()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	assert.ErrorIs(t, n.WaitIdle(ctx), context.DeadlineExceeded, "runtime work keeps the network busy")
	cancel()
	n.Done()
	waitIdle(t, n)

	// After WaitIdle, everything written has arrived: no sleeps needed.
	for i := 0; i < 20; i++ {
		msg := bytes.Repeat([]byte{byte(i)}, 1000*(i+1))
		_, err := cli.Write(msg)
		require.NoError(t, err)
		waitIdle(t, n)
		require.Equal(t, len(msg), srv.Raw().Readable(), "step %d", i)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(srv, got)
		require.NoError(t, err)
	}

	// A delayed link keeps the network busy until the frame lands.
	require.NoError(t, n.SetFaults(Faults{Delay: 5 * time.Millisecond}))
	_, err := cli.Write([]byte("slow"))
	require.NoError(t, err)
	assert.False(t, n.IdleNow())
	waitIdle(t, n)
	assert.Equal(t, 4, srv.Raw().Readable())
}

func TestIdleCheckAndAbandonedDial(t *testing.T) {
	n := newNet(t, Options{})
	var mu sync.Mutex
	reason := "runtime queue not empty"
	n.AddIdleCheck(func() string {
		mu.Lock()
		defer mu.Unlock()
		return reason
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err := n.WaitIdle(ctx)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "runtime queue not empty", "the error says what is busy")
	mu.Lock()
	reason = ""
	mu.Unlock()
	waitIdle(t, n)

	// A dial abandoned mid-handshake leaves nothing to wait for.
	h, err := n.Host("10.0.0.2")
	require.NoError(t, err)
	l, err := h.Listen(false, 80)
	require.NoError(t, err)
	require.NoError(t, n.SetPathFaults("10.0.0.2", "10.0.0.1", Faults{Loss: 1}))
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	_, err = n.DialContext(ctx, "10.0.0.1", l.AddrPort().String())
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, n.SetPathFaults("10.0.0.2", "10.0.0.1", Faults{}))
	waitIdle(t, n)
	assert.Equal(t, 0, l.Pending())
}

func TestTCPDoneHook(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, cli, srv *Conn)
		want []string // which ends see OnTCPDone
	}{
		{"peer reset", func(t *testing.T, cli, srv *Conn) {
			require.NoError(t, srv.Abort())
		}, []string{"client"}},
		{"both shut down", func(t *testing.T, cli, srv *Conn) {
			require.NoError(t, cli.Shutdown(SHUT_WR))
			require.NoError(t, srv.Shutdown(SHUT_WR))
		}, []string{"client", "server"}},
		{"closed by the application", func(t *testing.T, cli, srv *Conn) {
			require.NoError(t, cli.Close())
			require.NoError(t, srv.Close())
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, Options{})
			var mu sync.Mutex
			var got []string
			cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
			n.SetHooks(Hooks{OnTCPDone: func(c *Conn) {
				mu.Lock()
				defer mu.Unlock()
				if c == cli {
					got = append(got, "client")
				} else {
					got = append(got, "server")
				}
			}})
			tc.run(t, cli, srv)
			waitIdle(t, n)
			mu.Lock()
			defer mu.Unlock()
			assert.ElementsMatch(t, tc.want, got)
		})
	}
}

// TestWriteSpaceHook fills a Conn's send buffer with nobody reading the
// peer: the hook stays silent while the buffer stays full, and runs once
// the peer's reads let TCP free it (sk_write_space), when a non-blocking
// send can queue again.
func TestWriteSpaceHook(t *testing.T) {
	n := newNet(t, Options{MTU: 65535})
	c, s := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	chunk := make([]byte, 64<<10)
	// Fill until the buffer stays full once the peer's window is full too.
	for c.Raw().Writable() {
		for {
			_, err := c.SendMsg([][]byte{chunk}, MSG_DONTWAIT)
			if err != nil {
				require.ErrorIs(t, err, errno.EAGAIN)
				break
			}
		}
		waitIdle(t, n)
	}
	fired := make(chan struct{}, 1)
	c.Raw().SetWriteSpaceHook(func(*Conn) {
		select {
		case fired <- struct{}{}:
		default:
		}
	})
	waitIdle(t, n)
	select {
	case <-fired:
		t.Fatal("the hook ran with the send buffer still full")
	default:
	}
	// The peer reads in the background until the test ends.
	go func() {
		buf := make([]byte, 256<<10)
		for {
			if _, err := s.Read(buf); err != nil {
				return
			}
		}
	}()
	defer s.SetReadDeadline(time.Now())
	select {
	case <-fired:
	case <-time.After(time.Minute):
		t.Fatal("the hook did not run within a minute of the peer reading")
	}
	require.True(t, c.Raw().Writable(), "writable once the hook ran")
	c.Raw().SetWriteSpaceHook(nil)
}
