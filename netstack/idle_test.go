package netstack

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// The idle check reads gVisor's send-queue counter by its layout; a gVisor
// upgrade that changes it must fail here rather than make WaitIdle guess.
func TestSendQueueLayout(t *testing.T) {
	require.True(t, sndQueueLayout.ok, "tcp.Endpoint.sndQueueInfo layout not recognised")
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	require.NoError(t, n.SetFaults(Faults{Delay: 20 * time.Millisecond}))
	_, err := cli.Write(make([]byte, 1000))
	require.NoError(t, err)
	used, ok := sendQueued(cli.ep)
	require.True(t, ok)
	assert.Equal(t, 1000, used, "unacknowledged bytes are counted")
	waitIdle(t, n)
	used, _ = sendQueued(cli.ep)
	assert.Equal(t, 0, used)
	assert.Equal(t, 1000, srv.Raw().Readable())
	assert.Equal(t, "idle", n.BusyReason())
}

// A segment delivered to an endpoint whose processing has not run yet is
// work in flight, even when the endpoint itself has nothing to send.
func TestIdleSeesUnprocessedSegments(t *testing.T) {
	require.True(t, segQueueLayout.ok, "tcp.Endpoint.segmentQueue layout not recognised")
	n := newNet(t, Options{})
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	waitIdle(t, n)
	busy, _ := n.endpointBusy(srv.tr)
	require.False(t, busy)

	// Holding the endpoint's lock keeps gVisor's processors from handling
	// what arrives: it stays in the segment queue.
	ep := srv.ep.(*tcp.Endpoint)
	ep.StopWork()
	stopped := true
	defer func() {
		if stopped {
			ep.ResumeWork()
		}
	}()
	_, err := cli.Write([]byte("hello"))
	require.NoError(t, err)
	eventually(t, "the segment to reach the server's queue", func() bool {
		q, ok := segmentsQueued(srv.ep)
		return ok && q
	})
	busy, _ = n.endpointBusy(srv.tr)
	assert.True(t, busy, "the receiver has a segment to process")
	assert.False(t, n.IdleNow())
	assert.Contains(t, n.BusyReason(), "received segments not yet processed")
	ep.ResumeWork()
	stopped = false
	waitIdle(t, n)
	assert.Equal(t, 5, srv.Raw().Readable())
}
