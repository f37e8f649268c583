package runtime

import (
	"bytes"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/require"
)

// TestIngressHandOverPages redirects messages large enough that their
// fragment is handed to the target's ingress queue whole, then reads them
// back with peeks and partial reads while more are written. A page given
// back to the pool before the reader is done with it would be refilled by
// a later write and the read would show that message's bytes instead.
func TestIngressHandOverPages(t *testing.T) {
	const size, msgs = 16384, 6
	for _, tc := range []struct {
		name string
		// end finishes the target after part was read; readable says
		// whether the rest can still be read afterwards.
		end      func(f *fixture, sm *SockMap, b *Socket)
		readable bool
	}{
		{"read all", func(*fixture, *SockMap, *Socket) {}, true},
		{"purge", func(f *fixture, sm *SockMap, b *Socket) {
			require.NoError(t, sm.DeleteBytes([]byte{0, 0, 0, 0}))
		}, false},
		{"close", func(f *fixture, sm *SockMap, b *Socket) {
			require.NoError(t, b.Close())
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			sm := f.sockMap("sock_map")
			require.NoError(t, f.rt.Attach(f.coll.Programs["msg_prog"], sm, ebpf.AttachSkMsgVerdict))
			a, _ := f.pipe("10.0.0.1", "10.0.0.2:80")
			_, b := f.pipe("10.0.0.3", "10.0.0.4:80")
			require.NoError(t, sm.Update(uint32(0), b, 0))
			require.NoError(t, sm.Update(uint32(1), a, 0))
			f.setConf(msgConf{Mode: modeIngress, Key: 0})
			var want []byte
			write := func(i int) {
				m := bytes.Repeat([]byte{byte('a' + i)}, size)
				m[0], m[size-1] = byte(i), byte(i)
				n, err := a.Write(m)
				require.NoError(t, err)
				require.Equal(t, size, n)
				want = append(want, m...)
			}
			for i := 0; i < msgs/2; i++ {
				write(i)
			}
			// Peek, then read a message and a half, writing more in
			// between so the pool has pages to hand out again.
			peek := make([]byte, size+100)
			k, err := b.RecvMsg(peek, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			require.NoError(t, err)
			require.Equal(t, want[:k], peek[:k], "peek")
			got := readN(t, b, size+size/2)
			write(msgs / 2)
			got = append(got, readN(t, b, size/2)...)
			for i := msgs/2 + 1; i < msgs; i++ {
				write(i)
			}
			got = append(got, readN(t, b, size/3)...)
			require.Equal(t, want[:len(got)], got)
			tc.end(f, sm, b)
			if !tc.readable {
				// What was queued is gone (purged or closed).
				rest, err := b.RecvMsg(make([]byte, size), syscall.MSG_DONTWAIT)
				require.Zero(t, rest)
				require.Error(t, err)
				return
			}
			got = append(got, readN(t, b, len(want)-len(got))...)
			require.Equal(t, want, got)
			_, err = b.RecvMsg(make([]byte, 1), syscall.MSG_DONTWAIT)
			require.ErrorIs(t, err, errno.EAGAIN)
		})
	}
}
