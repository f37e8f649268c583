package netstack

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReceiveRefusingLayout(t *testing.T) {
	require.True(t, rcvMemLayout.ok, "tcp.Endpoint.rcvMemUsed layout not recognised")
	n := newNet(t, Options{})
	_, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	assert.False(t, receiveRefusing(srv.ep), "an empty receiver takes data")
}

// A receiver with a small SO_RCVBUF that never reads drops, without an
// ACK, segments inside the window it advertised (gVisor charges each held
// segment's metadata to the buffer, the window counts payload only). The
// sender retransmitting into it is stalled as behind a zero window: the
// network must count as idle, and every byte accepted must reach the
// reader, in order, once it reads.
func TestSmallReceiveBufferStallIsIdle(t *testing.T) {
	for _, rcvbuf := range []int{4096, 8192, 16384} {
		t.Run(fmt.Sprintf("SO_RCVBUF=%d", rcvbuf), func(t *testing.T) {
			n := newNet(t, Options{})
			cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
			require.NoError(t, srv.SetSockoptInt(SOL_SOCKET, SO_RCVBUF, rcvbuf))
			require.NoError(t, cli.SetSockoptInt(SOL_SOCKET, SO_SNDBUF, 16384))
			// 4 KiB writes with a byte pattern, until the sender is full;
			// waiting for idle between writes lets every window fill.
			var sent []byte
			for i := 0; i < 1024; i++ {
				piece := make([]byte, 4096)
				for j := range piece {
					piece[j] = byte(len(sent) + j)
				}
				k, err := cli.SendMsg([][]byte{piece}, MSG_DONTWAIT)
				sent = append(sent, piece[:k]...)
				if err != nil {
					require.ErrorIs(t, err, errno.EAGAIN)
					break
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err = n.WaitIdle(ctx)
				cancel()
				require.NoError(t, err, "after %d bytes sent: %s", len(sent), n.BusyReason())
			}
			require.Less(t, len(sent), 1024*4096, "the sender filled up")
			waitIdle(t, n)
			assert.Equal(t, "idle", n.BusyReason())

			got := make([]byte, 0, len(sent))
			buf := make([]byte, 64<<10)
			for len(got) < len(sent) {
				k, err := srv.Read(buf)
				require.NoError(t, err)
				got = append(got, buf[:k]...)
			}
			require.Equal(t, sent, got, "the reader gets every accepted byte in order")
			waitIdle(t, n)
			assert.Equal(t, 0, srv.Raw().Readable(), "nothing more than was accepted")
		})
	}
}
