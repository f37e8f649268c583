package netstack

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	assert.Equal(t, 1000, srv.Readable())
	assert.Equal(t, "idle", n.BusyReason())
}
