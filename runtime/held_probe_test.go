package runtime

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

// TestHeldBytesReachThePeer: an apply_bytes split redirects the first
// piece of a send to another socket's egress with MSG_MORE (more of the
// send follows) and drops the rest. Nothing pushes the target again, yet
// the accepted piece must not stay behind: TCP's probe timer sends it
// (heldProbeDelay), as on the kernel.
func TestHeldBytesReachThePeer(t *testing.T) {
	obj, err := loader.Open(testobj.Path("scenarios", "apply_redirect.o"))
	require.NoError(t, err)
	rt := New(Options{})
	t.Cleanup(func() { rt.Close() })
	coll, err := rt.Load(obj)
	require.NoError(t, err)
	sm, ok := coll.SockMap("sock_map")
	require.True(t, ok)
	require.NoError(t, rt.Attach(coll.Programs["msg_apply_redir"], sm, ebpf.AttachSkMsgVerdict))
	// apply 10, target sock_map[1], egress, redirect on even runs and
	// drop on odd ones.
	require.NoError(t, coll.Maps[".data"].Put(uint32(0), [4]uint32{10, 1, 0, 2}))
	aCli, aSrv, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
	require.NoError(t, err)
	bCli, bSrv, err := rt.Net().Pipe("10.0.0.3", "10.0.0.4:80")
	require.NoError(t, err)
	require.NoError(t, sm.Update(uint32(0), aCli, 0))
	require.NoError(t, sm.Update(uint32(1), bCli, 0))

	payload := make([]byte, 25)
	for i := range payload {
		payload[i] = byte(i)
	}
	n, err := aCli.Write(payload)
	require.NoError(t, err)
	require.Equal(t, 15, n, "10 redirected, 10 dropped, 5 counted after the drop")
	require.Equal(t, payload[:10], readN(t, bSrv, 10))
	require.Empty(t, drain(t, aSrv))
	require.Empty(t, drain(t, bCli))
}
