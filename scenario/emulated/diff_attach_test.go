//go:build linux

package emulated_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
)

// Map-level attach rules (sock_map_prog_update) and inheritance at
// insertion, on both backends.

// attachRig loads every program of the test object and makes fresh maps.
type attachRig struct {
	s     scenario.Session
	maps  map[string]scenario.MapID
	progs map[string]scenario.ProgID
	lst   scenario.SocketID
}

var attachProgs = []struct {
	name string
	kind ebpf.AttachType
}{
	{"msg_pass", ebpf.AttachSkMsgVerdict},
	{"msg_prog", ebpf.AttachSkMsgVerdict},
	{"skb_parser", ebpf.AttachSkSKBStreamParser},
	{"skb_stream_verdict", ebpf.AttachSkSKBStreamVerdict},
	{"skb_verdict", ebpf.AttachSkSKBVerdict},
}

func newAttachRig(t *testing.T, s scenario.Session) *attachRig {
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("runtime", "sockmap_msg.o"))
	require.NoError(t, err)
	r := &attachRig{s: s, maps: map[string]scenario.MapID{}, progs: map[string]scenario.ProgID{}}
	obj := &scenario.Object{Name: "sockmap_msg", Path: "sockmap_msg.o", Spec: spec, Maps: map[string]scenario.MapID{}}
	id := scenario.MapID(0)
	for n := range spec.Maps {
		obj.Maps[n] = id
		r.maps[n] = id
		id++
	}
	require.NoError(t, s.LoadObject(obj))
	for i, p := range attachProgs {
		ps := spec.Programs[p.name].Copy()
		prog := &scenario.Program{ID: scenario.ProgID(i), Name: p.name, Object: obj, Attach: p.kind, Spec: ps}
		require.NoError(t, s.LoadProgram(prog), p.name)
		r.progs[p.name] = prog.ID
	}
	r.lst, _, err = s.Listen(netip.AddrPortFrom(loopback, 0))
	require.NoError(t, err)
	return r
}

type attachStep struct {
	name string
	do   func(t *testing.T, r *attachRig) string
}

func attach(prog, m string, k ebpf.AttachType) func(*testing.T, *attachRig) string {
	return func(t *testing.T, r *attachRig) string { return outcomeOf(r.s.Attach(r.progs[prog], r.maps[m], k)) }
}

func detach(prog, m string, k ebpf.AttachType) func(*testing.T, *attachRig) string {
	return func(t *testing.T, r *attachRig) string { return outcomeOf(r.s.Detach(r.progs[prog], r.maps[m], k)) }
}

// sendCount connects a fresh pair, inserts the client into m at key,
// sends 10 bytes and reports the result_map run count delta: whether the
// msg program the socket inherited was msg_prog (counts) or msg_pass.
func insertAndSend(m string, key uint32) func(*testing.T, *attachRig) string {
	return func(t *testing.T, r *attachRig) string {
		c, _, err := r.s.Connect(r.lst, netip.AddrPortFrom(loopback, 0))
		require.NoError(t, err)
		if err := r.s.MapUpdate(r.maps[m], u32(key), scenario.MapValue{Socket: c, IsSocket: true}, 0); err != nil {
			return "insert " + errName(err)
		}
		before := runs(t, r)
		n, err := r.s.Send(c, [][]byte{make([]byte, 10)}, 0)
		if err != nil {
			return "send " + errName(err)
		}
		return fmt.Sprintf("sent %d, msg_prog ran %d times", n, runs(t, r)-before)
	}
}

func runs(t *testing.T, r *attachRig) uint64 {
	v, err := r.s.MapLookup(r.maps["result_map"], u32(0))
	require.NoError(t, err)
	return uint64(v[0]) | uint64(v[1])<<8
}

var attachSteps = []attachStep{
	{"sk_msg program as stream_verdict", attach("msg_pass", "sock_map", ebpf.AttachSkSKBStreamVerdict)},
	{"attach msg_pass", attach("msg_pass", "sock_map", ebpf.AttachSkMsgVerdict)},
	{"socket inserted now inherits msg_pass", insertAndSend("sock_map", 0)},
	{"attach msg_prog replaces msg_pass", attach("msg_prog", "sock_map", ebpf.AttachSkMsgVerdict)},
	{"socket inserted before keeps msg_pass; a new one gets msg_prog", insertAndSend("sock_map", 1)},
	{"detach msg_pass (not attached)", detach("msg_pass", "sock_map", ebpf.AttachSkMsgVerdict)},
	{"detach msg_prog", detach("msg_prog", "sock_map", ebpf.AttachSkMsgVerdict)},
	{"detach msg_prog again", detach("msg_prog", "sock_map", ebpf.AttachSkMsgVerdict)},
	{"new socket without a program", insertAndSend("sock_map", 2)},
	{"attach stream_verdict", attach("skb_stream_verdict", "sock_hash", ebpf.AttachSkSKBStreamVerdict)},
	{"attach skb_verdict while stream_verdict is set", attach("skb_verdict", "sock_hash", ebpf.AttachSkSKBVerdict)},
	{"attach parser", attach("skb_parser", "sock_hash", ebpf.AttachSkSKBStreamParser)},
	{"detach stream_verdict", detach("skb_stream_verdict", "sock_hash", ebpf.AttachSkSKBStreamVerdict)},
	{"attach skb_verdict", attach("skb_verdict", "sock_hash", ebpf.AttachSkSKBVerdict)},
	{"attach stream_verdict while skb_verdict is set", attach("skb_stream_verdict", "sock_hash", ebpf.AttachSkSKBStreamVerdict)},
	{"detach skb_verdict as stream_verdict", detach("skb_verdict", "sock_hash", ebpf.AttachSkSKBStreamVerdict)},
	{"detach skb_verdict", detach("skb_verdict", "sock_hash", ebpf.AttachSkSKBVerdict)},
}

func runAttach(t *testing.T, r *attachRig) []string {
	var out []string
	for _, s := range attachSteps {
		out = append(out, s.name+": "+s.do(t, r))
	}
	return out
}

func TestKernelAttachRules(t *testing.T) {
	ks := kernelSession(t)
	ss := newSkmsgSession(t)
	t.Cleanup(func() { ss.Close() })
	want := runAttach(t, newAttachRig(t, ks))
	got := runAttach(t, newAttachRig(t, ss))
	for i := range want {
		t.Log(want[i])
		require.Equal(t, want[i], got[i])
	}
}
