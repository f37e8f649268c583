package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/netstack"
)

// TestHeldDeliveriesKeepNetworkBusy checks the idle check of held
// deliveries: with the target full the network is idle (nothing can
// move); once the target has room the network is busy until the held
// bytes went, even before anything woke their retry (the moment between a
// read emptying the target and the retry it kicks); and when they went it
// is idle again with every byte readable.
func TestHeldDeliveriesKeepNetworkBusy(t *testing.T) {
	obj, err := loader.Open(testobj.Path("scenarios", "verdict.o"))
	require.NoError(t, err)
	rt := New(Options{Network: netstack.Options{MTU: 65535, ChecksumOffload: true}})
	t.Cleanup(func() { rt.Close() })
	coll, err := rt.Load(obj)
	require.NoError(t, err)
	sm, _ := coll.SockMap("sock_map")
	require.NoError(t, rt.Attach(coll.Programs["skb_redir_ingress"], sm, ebpf.AttachSkSKBStreamVerdict))
	ac, as, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
	require.NoError(t, err)
	bc, _, err := rt.Net().Pipe("10.0.0.3", "10.0.0.4:80")
	require.NoError(t, err)
	require.NoError(t, sm.Update(uint32(0), as, 0))
	require.NoError(t, sm.Update(uint32(1), bc, 0))
	idle := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, rt.Net().Netstack().WaitIdle(ctx))
	}

	const size = 1 << 20
	n, err := ac.Write(make([]byte, size))
	require.NoError(t, err)
	require.Equal(t, size, n)
	idle()
	require.Empty(t, rt.heldBusy(), "held for a full target")
	queued := bc.conn.Raw().IngressLen()
	require.Greater(t, queued, bc.rcvbuf(), "the target is over its receive buffer")

	// Make room without the read's wake-up: the held bytes can go now.
	hook := func(*netstack.Conn) { bc.roomChanged() }
	bc.conn.Raw().SetConsumeHook(nil)
	buf := make([]byte, queued)
	got, err := bc.conn.RecvMsg(buf, netstack.MSG_DONTWAIT)
	require.NoError(t, err)
	require.Equal(t, queued, got)
	require.NotEmpty(t, rt.heldBusy(), "the target has room")

	// The wake-up: the retry runs and the network settles.
	bc.conn.Raw().SetConsumeHook(hook)
	bc.roomChanged()
	total := got
	for total < size {
		idle()
		k, err := bc.RecvMsg(buf, netstack.MSG_DONTWAIT)
		require.NoError(t, err, "after %d of %d bytes", total, size)
		total += k
	}
	idle()
	require.Empty(t, rt.heldBusy())
}
