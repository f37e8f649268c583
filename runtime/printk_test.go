package runtime

import (
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

// Options.Printk sees each bpf_printk line with the program that printed
// it and the socket it ran for; without it the lines are dropped and the
// helper still returns the length printed.
func TestPrintkEvents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		collect bool
	}{{"collected", true}, {"dropped", false}} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := loader.Open(testobj.Path("scenarios", "printk.o"))
			require.NoError(t, err)
			var (
				mu  sync.Mutex
				evs []PrintkEvent
			)
			opts := Options{}
			if tc.collect {
				opts.Printk = func(ev *PrintkEvent) {
					mu.Lock()
					evs = append(evs, *ev)
					mu.Unlock()
				}
			}
			rt := New(opts)
			defer rt.Close()
			coll, err := rt.Load(obj)
			require.NoError(t, err)
			f := &fixture{t: t, rt: rt, coll: coll}
			sm := f.sockMap("sock_map")
			require.NoError(t, rt.Attach(coll.Programs["msg_printk"], sm, ebpf.AttachSkMsgVerdict))
			a, _ := f.pipe("10.0.0.1", "10.0.0.2:80")
			b, _ := f.pipe("10.0.0.3", "10.0.0.4:80")
			require.NoError(t, sm.Update(uint32(0), a, 0))
			require.NoError(t, sm.Update(uint32(1), b, 0))
			_, err = a.Write([]byte("hello"))
			require.NoError(t, err)
			_, err = b.Write([]byte("hi there"))
			require.NoError(t, err)

			mu.Lock()
			defer mu.Unlock()
			if !tc.collect {
				require.Empty(t, evs)
				return
			}
			require.Len(t, evs, 2)
			for i, want := range []struct {
				sk   *Socket
				text string
			}{{a, "skmsg scenario: msg size 5"}, {b, "skmsg scenario: msg size 8"}} {
				require.Same(t, coll.Programs["msg_printk"], evs[i].Program)
				require.Same(t, want.sk, evs[i].Socket)
				require.Equal(t, want.text, evs[i].Text)
			}
		})
	}
}
