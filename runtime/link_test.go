package runtime

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/require"
)

// Sockmap links (BPF_LINK_CREATE) own their slot: plain attach and detach
// then fail with EBUSY, a second link too; closing the link empties the
// slot. (SEMANTICS §1.3.)
func TestSockmapLinks(t *testing.T) {
	f := newFixture(t)
	sm := f.sockMap("sock_map")
	pass, prog := f.coll.Programs["msg_pass"], f.coll.Programs["msg_prog"]

	require.NoError(t, f.rt.Attach(pass, sm, ebpf.AttachSkMsgVerdict))
	l, err := f.rt.AttachLink(prog, sm, ebpf.AttachSkMsgVerdict)
	require.NoError(t, err, "a link replaces a program attached without one")
	got, _ := sm.Query(ebpf.AttachSkMsgVerdict)
	require.Equal(t, prog, got)

	require.ErrorIs(t, f.rt.Attach(pass, sm, ebpf.AttachSkMsgVerdict), errno.EBUSY)
	require.ErrorIs(t, f.rt.Detach(prog, sm, ebpf.AttachSkMsgVerdict), errno.EBUSY)
	_, err = f.rt.AttachLink(pass, sm, ebpf.AttachSkMsgVerdict)
	require.ErrorIs(t, err, errno.EBUSY)

	require.ErrorIs(t, l.Update(pass, pass), errno.EPERM, "old is not the link's program")
	require.ErrorIs(t, l.Update(f.coll.Programs["skb_verdict"], nil), errno.EINVAL, "another program type")
	require.NoError(t, l.Update(pass, prog))
	got, _ = sm.Query(ebpf.AttachSkMsgVerdict)
	require.Equal(t, pass, got)

	require.NoError(t, l.Close())
	got, _ = sm.Query(ebpf.AttachSkMsgVerdict)
	require.Nil(t, got)
	require.ErrorIs(t, l.Update(prog, nil), errno.ENOLINK)
	require.NoError(t, f.rt.Attach(prog, sm, ebpf.AttachSkMsgVerdict))

	_, err = f.rt.AttachLink(f.coll.Programs["skb_verdict"], sm, ebpf.AttachSkMsgVerdict)
	require.ErrorIs(t, err, errno.EINVAL, "program type must match the attach type")

	// The design's shape: any map of the collection; not a socket map.
	require.NoError(t, f.rt.Attach(pass, f.coll.Maps["sock_hash"], ebpf.AttachSkMsgVerdict))
	require.ErrorIs(t, f.rt.Attach(pass, f.coll.Maps["conf_map"], ebpf.AttachSkMsgVerdict), errno.EOPNOTSUPP)
	_, err = f.rt.AttachLink(pass, f.coll.Maps["conf_map"], ebpf.AttachSkMsgVerdict)
	require.ErrorIs(t, err, errno.EINVAL)
}

// A socket keeps the programs it inherited when the map's are detached,
// and the psock (and its msg program) lives until the socket leaves its
// last map.
func TestInheritanceAndPsockLifetime(t *testing.T) {
	f := newFixture(t)
	sm := f.sockMap("sock_map")
	sm8 := f.sockMap("sock_map8")
	require.NoError(t, f.rt.Attach(f.coll.Programs["msg_prog"], sm, ebpf.AttachSkMsgVerdict))
	cli, srv := f.pipe("10.0.0.1", "10.0.0.2:80")
	require.False(t, cli.InMap())
	require.NoError(t, sm.Update(uint32(1), cli, 0))
	require.NoError(t, sm8.Update(uint32(0), cli, 0))
	require.NoError(t, f.rt.Detach(f.coll.Programs["msg_prog"], sm, ebpf.AttachSkMsgVerdict))
	require.Equal(t, f.coll.Programs["msg_prog"], cli.Progs().Msg)

	f.setConf(msgConf{Mode: modePass})
	_, err := cli.Write([]byte("a"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), f.result().Runs)

	require.NoError(t, sm.Delete(uint32(1)))
	require.True(t, cli.InMap(), "still in sock_map8")
	_, err = cli.Write([]byte("b"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), f.result().Runs, "the msg program stays until the last map")

	require.NoError(t, sm8.Delete(uint32(0)))
	require.False(t, cli.InMap())
	_, err = cli.Write([]byte("c"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), f.result().Runs, "plain TCP without a psock")
	require.Equal(t, []byte("abc"), readN(t, srv, 3))
}
