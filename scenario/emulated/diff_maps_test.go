//go:build linux

package emulated_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/scenario"
)

// The insert/delete/lookup errno cases of the kernel selftests'
// sockmap_listen and of SEMANTICS §5 and §10, run on both backends.

func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

// op is one step; it returns what it observed as a string so both backends
// can be compared line by line.
type op struct {
	name string
	do   func(t *testing.T, r *rig, w *world) string
}

// world holds the sockets a sequence made.
type world struct {
	c1, p1, c2, p2 scenario.SocketID
}

func outcomeOf(err error) string {
	if err == nil {
		return "ok"
	}
	return errName(err)
}

func update(m func(r *rig) scenario.MapID, key []byte, sock func(w *world) scenario.SocketID, flags ebpf.MapUpdateFlags) func(*testing.T, *rig, *world) string {
	return func(t *testing.T, r *rig, w *world) string {
		return outcomeOf(r.s.MapUpdate(m(r), key, scenario.MapValue{Socket: sock(w), IsSocket: true}, flags))
	}
}

func updateRaw(m func(r *rig) scenario.MapID, key, val []byte) func(*testing.T, *rig, *world) string {
	return func(t *testing.T, r *rig, w *world) string {
		return outcomeOf(r.s.MapUpdate(m(r), key, scenario.MapValue{Bytes: val}, 0))
	}
}

func del(m func(r *rig) scenario.MapID, key []byte) func(*testing.T, *rig, *world) string {
	return func(t *testing.T, r *rig, w *world) string { return outcomeOf(r.s.MapDelete(m(r), key)) }
}

// lookup reports the error, or which of the world's sockets the cookie
// names.
func lookup(m func(r *rig) scenario.MapID, key []byte) func(*testing.T, *rig, *world) string {
	return func(t *testing.T, r *rig, w *world) string {
		v, err := r.s.MapLookup(m(r), key)
		if err != nil {
			return errName(err)
		}
		cookie := binary.NativeEndian.Uint64(v)
		for name, id := range map[string]scenario.SocketID{"c1": w.c1, "p1": w.p1, "c2": w.c2, "p2": w.p2} {
			if c, err := r.s.Cookie(id); err == nil && c == cookie {
				return "cookie of " + name
			}
		}
		return fmt.Sprintf("unknown cookie %#x", cookie)
	}
}

var (
	sockMap  = func(r *rig) scenario.MapID { return r.sockMap }
	sockHash = func(r *rig) scenario.MapID { return r.sockHash }
	sockMap8 = func(r *rig) scenario.MapID { return r.sockMap8 }
	c1       = func(w *world) scenario.SocketID { return w.c1 }
	p1       = func(w *world) scenario.SocketID { return w.p1 }
	c2       = func(w *world) scenario.SocketID { return w.c2 }
)

var mapOps = []op{
	{"lookup 4-byte-value sockmap", lookup(sockMap, u32(0))},
	{"lookup empty sockmap8 slot", lookup(sockMap8, u32(0))},
	{"lookup sockmap8 out of range", lookup(sockMap8, u32(100))},
	{"update value above INT_MAX", updateRaw(sockMap, u32(0), u32(0x80000000))},
	{"update value naming no fd", updateRaw(sockMap, u32(0), u32(9999))},
	{"update 8-byte value above INT_MAX", updateRaw(sockMap8, u32(0), u64(1<<40))},
	{"update flags 3", update(sockMap8, u32(0), c1, 3)},
	{"update index out of range", update(sockMap8, u32(4), c1, 0)},
	{"update EXIST on empty slot", update(sockMap8, u32(0), c1, ebpf.UpdateExist)},
	{"update c1 into sockmap8[0]", update(sockMap8, u32(0), c1, 0)},
	{"lookup sockmap8[0]", lookup(sockMap8, u32(0))},
	{"update NOEXIST on occupied slot", update(sockMap8, u32(0), p1, ebpf.UpdateNoExist)},
	{"update EXIST replaces", update(sockMap8, u32(0), p1, ebpf.UpdateExist)},
	{"lookup sockmap8[0] after replace", lookup(sockMap8, u32(0))},
	{"same socket under a second key of a map without programs", update(sockMap8, u32(1), p1, 0)},
	{"delete sockmap8[1]", del(sockMap8, u32(1))},
	{"delete empty sockmap slot", del(sockMap8, u32(1))},
	{"delete sockmap index out of range", del(sockMap8, u32(50))},
	{"delete missing sockhash key", del(sockHash, u32(7))},
	{"c2 into sock_map[1] (map has an sk_msg program)", update(sockMap, u32(1), c2, 0)},
	{"c2 under a second key of the same map", update(sockMap, u32(2), c2, 0)},
	{"c2 into sock_hash (also has an sk_msg program)", update(sockHash, u32(1), c2, 0)},
	{"c2 into sockmap8 (no programs)", update(sockMap8, u32(2), c2, 0)},
	{"c2 re-inserted under its own sock_map key", update(sockMap, u32(1), c2, 0)},
	{"delete sock_map[1]", del(sockMap, u32(1))},
	{"c2 into sock_hash after leaving sock_map (psock keeps its msg program)", update(sockHash, u32(1), c2, 0)},
	{"p1 into sock_hash[5]", update(sockHash, u32(5), p1, 0)},
	{"sock_hash NOEXIST on existing key", update(sockHash, u32(5), c1, ebpf.UpdateNoExist)},
	{"sock_hash EXIST on missing key", update(sockHash, u32(6), c1, ebpf.UpdateExist)},
	{"close c1", func(t *testing.T, r *rig, w *world) string { return outcomeOf(r.s.CloseSocket(w.c1)) }},
	{"p1 is in CLOSE_WAIT: insert", func(t *testing.T, r *rig, w *world) string {
		require.NoError(t, r.s.WaitIdle())
		return outcomeOf(r.s.MapUpdate(r.sockMap8, u32(3), scenario.MapValue{Socket: w.p1, IsSocket: true}, 0))
	}},
	{"p1 stays in sock_hash in CLOSE_WAIT: delete", del(sockHash, u32(5))},
	{"listener into sockmap8", func(t *testing.T, r *rig, w *world) string {
		return outcomeOf(r.s.MapUpdate(r.sockMap8, u32(3), scenario.MapValue{Socket: r.listener, IsSocket: true}, 0))
	}},
	{"sockmap8 entries", func(t *testing.T, r *rig, w *world) string {
		ents, err := r.s.MapEntries(r.sockMap8)
		if err != nil {
			return errName(err)
		}
		keys := []uint32{}
		for _, e := range ents {
			keys = append(keys, binary.NativeEndian.Uint32(e.Key))
		}
		return fmt.Sprint(keys)
	}},
	{"close p2 and c2, then sock_hash entries", func(t *testing.T, r *rig, w *world) string {
		r.s.CloseSocket(w.c2)
		ents, err := r.s.MapEntries(r.sockHash)
		if err != nil {
			return errName(err)
		}
		return fmt.Sprint(len(ents))
	}},
}

func runOps(t *testing.T, r *rig) []string {
	var w world
	var err error
	w.c1, w.p1, err = r.s.Connect(r.listener, netip.AddrPortFrom(loopback, 0))
	require.NoError(t, err)
	w.c2, w.p2, err = r.s.Connect(r.listener, netip.AddrPortFrom(loopback, 0))
	require.NoError(t, err)
	var out []string
	for _, o := range mapOps {
		out = append(out, o.name+": "+o.do(t, r, &w))
	}
	return out
}

func TestKernelSockmapErrnos(t *testing.T) {
	ks := kernelSession(t)
	kr := newRig(t, "kernel", ks)
	ss := newSkmsgSession(t)
	t.Cleanup(func() { ss.Close() })
	sr := newRig(t, "skmsg", ss)
	want := runOps(t, kr)
	got := runOps(t, sr)
	for i := range want {
		t.Log(want[i])
		require.Equal(t, want[i], got[i])
	}
}
