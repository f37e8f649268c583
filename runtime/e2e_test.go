package runtime

import (
	"context"
	"encoding/binary"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

// msgConf mirrors struct conf of testdata/runtime/sockmap_msg.c.
type msgConf struct {
	Mode, Key, UseHash, Apply, Cork uint32
	PullStart, PullEnd              uint32
	PushStart, PushLen              uint32
	PopStart, PopLen                uint32
}

const (
	modePass = iota
	modeEgress
	modeIngress
	modeDrop
)

// msgResult mirrors struct result.
type msgResult struct {
	Runs                          uint64
	Size, SizeOut                 uint32
	PullErr, PushErr, PopErr      int32
	DataLen                       uint32
	LocalPort, RemotePort, Family uint32
	SkState, SkDstPort, SkSrcPort uint32
}

type fixture struct {
	t    *testing.T
	rt   *Runtime
	coll *Collection
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	obj, err := loader.Open(testobj.Path("runtime", "sockmap_msg.o"))
	require.NoError(t, err)
	rt := New(Options{})
	t.Cleanup(func() { rt.Close() })
	coll, err := rt.Load(obj)
	require.NoError(t, err)
	return &fixture{t: t, rt: rt, coll: coll}
}

func (f *fixture) sockMap(name string) *SockMap {
	sm, ok := f.coll.SockMap(name)
	require.True(f.t, ok, name)
	return sm
}

func (f *fixture) setConf(c msgConf) {
	require.NoError(f.t, f.coll.Maps["conf_map"].Put(uint32(0), c))
}

func (f *fixture) result() msgResult {
	var r msgResult
	require.NoError(f.t, f.coll.Maps["result_map"].Lookup(uint32(0), &r))
	return r
}

func (f *fixture) pipe(cli, srv string) (*Socket, *Socket) {
	c, s, err := f.rt.Net().Pipe(cli, srv)
	require.NoError(f.t, err)
	return c, s
}

// readN reads exactly n bytes with a deadline.
func readN(t *testing.T, s *Socket, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	for got < n {
		require.True(t, time.Now().Before(deadline), "timed out after %d of %d bytes", got, n)
		k, err := s.RecvMsg(buf[got:], syscall.MSG_DONTWAIT)
		if err == errno.EAGAIN {
			require.NoError(t, s.rt.WaitIdle(time.Now().Add(time.Second)))
			continue
		}
		require.NoError(t, err)
		got += k
	}
	return buf
}

// drain reads everything readable once the network is idle.
func drain(t *testing.T, s *Socket) []byte {
	t.Helper()
	require.NoError(t, s.rt.WaitIdle(time.Now().Add(5*time.Second)))
	var out []byte
	buf := make([]byte, 65536)
	for {
		n, err := s.RecvMsg(buf, syscall.MSG_DONTWAIT)
		if err == errno.EAGAIN || err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, buf[:n]...)
	}
}

func TestEndToEndPassAndContext(t *testing.T) {
	f := newFixture(t)
	sm := f.sockMap("sock_map")
	require.NoError(t, f.rt.Attach(f.coll.Programs["msg_prog"], sm, ebpf.AttachSkMsgVerdict))
	cli, srv := f.pipe("10.0.0.1:5000", "10.0.0.2:8080")
	require.NoError(t, sm.Update(uint32(1), cli, 0))
	f.setConf(msgConf{Mode: modePass})
	n, err := cli.Write([]byte("hello"))
	require.NoError(t, err)
	require.Equal(t, 5, n)
	require.Equal(t, []byte("hello"), readN(t, srv, 5))
	r := f.result()
	require.Equal(t, uint64(1), r.Runs)
	require.Equal(t, uint32(5), r.Size)
	require.Equal(t, uint32(5), r.DataLen)
	require.Equal(t, uint32(5000), r.LocalPort)
	var be [4]byte
	binary.LittleEndian.PutUint32(be[:], r.RemotePort)
	require.Equal(t, uint16(8080), binary.BigEndian.Uint16(be[2:]), "remote_port is htonl(port)")
	require.Equal(t, uint32(afInet), r.Family)
	require.Equal(t, uint32(StateEstablished), r.SkState)
	require.Equal(t, uint32(5000), r.SkSrcPort)
}

func TestEndToEndRedirectIngress(t *testing.T) {
	f := newFixture(t)
	sm := f.sockMap("sock_map")
	require.NoError(t, f.rt.Attach(f.coll.Programs["msg_prog"], sm, ebpf.AttachSkMsgVerdict))
	a, _ := f.pipe("10.0.0.1", "10.0.0.2:80")
	_, b := f.pipe("10.0.0.3", "10.0.0.4:80")
	require.NoError(t, sm.Update(uint32(0), b, 0))
	require.NoError(t, sm.Update(uint32(1), a, maps0))
	f.setConf(msgConf{Mode: modeIngress, Key: 0})
	n, err := a.Write([]byte("to b's ingress"))
	require.NoError(t, err)
	require.Equal(t, 14, n)
	require.Equal(t, []byte("to b's ingress"), readN(t, b, 14))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = ctx
}

const maps0 = 0

// A write larger than 17 fragments of 32 KiB is processed in chunks, the
// program running once per chunk (SEMANTICS §3.2).
func TestLargeWriteChunks(t *testing.T) {
	f := newFixture(t)
	sm := f.sockMap("sock_map")
	require.NoError(t, f.rt.Attach(f.coll.Programs["msg_prog"], sm, ebpf.AttachSkMsgVerdict))
	cli, srv := f.pipe("10.0.0.1", "10.0.0.2:80")
	require.NoError(t, sm.Update(uint32(1), cli, 0))
	f.setConf(msgConf{Mode: modePass})
	const total = 1 << 20
	data := make([]byte, total)
	for i := range data {
		data[i] = byte(i * 13)
	}
	done := make(chan []byte)
	go func() { done <- readN(t, srv, total) }()
	n, err := cli.Write(data)
	require.NoError(t, err)
	require.Equal(t, total, n)
	require.Equal(t, data, <-done)
	r := f.result()
	require.Equal(t, uint64(2), r.Runs, "chunks of 17 x 32 KiB")
	require.Equal(t, uint32(total-MaxMsgFrags*FragSize), r.Size, "the last chunk")
	require.Equal(t, uint32(FragSize), r.DataLen, "data..data_end covers the first element")
}
