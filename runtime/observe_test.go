package runtime

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

type recorder struct {
	mu  sync.Mutex
	evs []RunEvent
}

func (r *recorder) ProgramRun(ev *RunEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, *ev)
	r.mu.Unlock()
}

// An observer sees every run with its verdict, redirect target and sizes.
func TestObserverSeesRuns(t *testing.T) {
	obj, err := loader.Open(testobj.Path("runtime", "sockmap_msg.o"))
	require.NoError(t, err)
	rec := &recorder{}
	rt := New(Options{Observer: rec})
	defer rt.Close()
	coll, err := rt.Load(obj)
	require.NoError(t, err)
	f := &fixture{t: t, rt: rt, coll: coll}
	sm := f.sockMap("sock_map")
	require.NoError(t, rt.Attach(coll.Programs["msg_prog"], sm, ebpf.AttachSkMsgVerdict))
	a, _ := f.pipe("10.0.0.1", "10.0.0.2:80")
	_, b := f.pipe("10.0.0.3", "10.0.0.4:80")
	require.NoError(t, sm.Update(uint32(0), b, 0))
	require.NoError(t, sm.Update(uint32(1), a, 0))

	f.setConf(msgConf{Mode: modeIngress, PushStart: 0, PushLen: 3})
	_, err = a.Write([]byte("abcdef"))
	require.NoError(t, err)
	f.setConf(msgConf{Mode: modeDrop})
	_, err = a.Write([]byte("xyz"))
	require.ErrorIs(t, err, errno.EACCES)

	require.Len(t, rec.evs, 2)
	ev := rec.evs[0]
	require.Equal(t, "msg_prog", ev.Program.Name)
	require.Equal(t, a, ev.Socket)
	require.Equal(t, "redirect", ev.Verdict)
	require.Equal(t, b, ev.Target)
	require.True(t, ev.Ingress)
	require.Equal(t, uint32(6), ev.Size)
	require.Equal(t, uint32(9), ev.SizeAfter)
	require.Equal(t, uint64(1), ev.Return)
	require.Equal(t, "drop", rec.evs[1].Verdict)
	require.Nil(t, rec.evs[1].Target)
	require.Equal(t, append(make([]byte, 3), "abcdef"...), readN(t, b, 9))
}

// Writers on different sockets run their programs in parallel, each with
// its own redirect target; nothing is lost or mixed up. Run with -race.
func TestParallelSenders(t *testing.T) {
	f := newFixture(t)
	sm := f.sockMap("sock_map")
	require.NoError(t, f.rt.Attach(f.coll.Programs["msg_redir_ingress"], sm, ebpf.AttachSkMsgVerdict))
	// One target at key 0; every sender redirects to its ingress.
	_, target := f.pipe("10.0.1.1", "10.0.1.2:80")
	require.NoError(t, sm.Update(uint32(0), target, 0))
	const senders, msgs = 4, 200
	var socks []*Socket
	for i := 0; i < senders; i++ {
		c, _ := f.pipe(fmt.Sprintf("10.0.2.%d", i+1), fmt.Sprintf("10.0.3.%d:80", i+1))
		require.NoError(t, sm.Update(uint32(i+1), c, 0))
		socks = append(socks, c)
	}
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < msgs; k++ {
				if _, err := s.Write([]byte{byte(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	got := make([]int, senders)
	buf := readN(t, target, senders*msgs)
	wg.Wait()
	for _, c := range buf {
		got[c]++
	}
	for i := range got {
		require.Equal(t, msgs, got[i], "bytes from sender %d", i)
	}
	_ = time.Second
}
