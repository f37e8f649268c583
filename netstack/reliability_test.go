package netstack

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// Every byte a non-blocking send reports as queued must arrive, promptly,
// even when the reader reads nothing until the writer is done: with Nagle
// on (Linux's default) tiny writes coalesce instead of becoming thousands
// of 1-byte segments that overflow the receiver's segment memory.
func TestTinyNonblockingSendsArrive(t *testing.T) {
	n := newNet(t, Options{Seed: 11})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	nodelay, err := cli.GetSockoptInt(SOL_TCP, TCP_NODELAY)
	require.NoError(t, err)
	require.Zero(t, nodelay, "TCP_NODELAY is off by default, as on Linux")
	sent := 0
	for i := 0; i < 30000; i++ {
		k, err := cli.Raw().SendTCP([]byte{byte(sent)}, MSG_DONTWAIT)
		if errors.Is(err, errno.EAGAIN) {
			break
		}
		require.NoError(t, err)
		sent += k
	}
	require.Greater(t, sent, 0)
	got := 0
	buf := make([]byte, 64<<10)
	defer func() {
		if t.Failed() {
			t.Logf("sent %d, received %d; %s; receiver dropped %d segments for want of buffer",
				sent, got, n.BusyReason(), srv.ep.Stats().(*tcp.Stats).ReceiveErrors.SegmentQueueDropped.Value())
		}
	}()
	eventually(t, "all sent bytes to arrive", func() bool {
		for {
			k, err := srv.RecvMsg(buf, MSG_DONTWAIT)
			if err != nil {
				require.ErrorIs(t, err, errno.EAGAIN)
				return got >= sent
			}
			for j := 0; j < k; j++ {
				require.Equal(t, byte(got+j), buf[j], "byte %d", got+j)
			}
			got += k
		}
	})
	require.Equal(t, sent, got)
}

// A writer blocked on a full send buffer must wake once the peer has taken
// the data: a lost wakeup shows up as both sides parked with the send
// buffer drained.
func TestSmallWritesDoNotStall(t *testing.T) {
	for _, tc := range []struct {
		name    string
		nodelay int
	}{
		{"nagle", 0},
		// With TCP_NODELAY a stream of small segments can still overflow
		// gVisor's receive segment memory under load (see
		// TestTinyNonblockingSendsArrive); that case is not covered here.
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, Options{Seed: 12})
			cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
			require.NoError(t, cli.SetSockoptInt(SOL_TCP, TCP_NODELAY, tc.nodelay))
			const writes, size = 100000, 64
			errc := make(chan error, 1)
			go func() {
				b := make([]byte, size)
				for i := 0; i < writes; i++ {
					for j := range b {
						b[j] = byte(i*size + j)
					}
					if _, err := cli.Write(b); err != nil {
						errc <- err
						return
					}
				}
				errc <- cli.CloseWrite()
			}()
			buf := make([]byte, 16<<10)
			got := 0
			for {
				// A healthy transfer never goes seconds without progress;
				// a lost wakeup or a dropped-segment stall does.
				require.NoError(t, srv.SetReadDeadline(time.Now().Add(3*time.Second)))
				k, err := srv.Read(buf)
				for j := 0; j < k; j++ {
					if buf[j] != byte(got+j) {
						t.Fatalf("stream corrupt at byte %d", got+j)
					}
				}
				got += k
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					used, _ := sendQueued(cli.ep)
					t.Fatalf("stalled after %d of %d bytes: %v; writer has %d bytes in its send buffer, writable %v; reader dropped %d segments for want of buffer; %s",
						got, writes*size, err, used, cli.Raw().Writable(), srv.ep.Stats().(*tcp.Stats).ReceiveErrors.SegmentQueueDropped.Value(), n.BusyReason())
				}
			}
			require.NoError(t, <-errc)
			require.Equal(t, writes*size, got)
		})
	}
}
