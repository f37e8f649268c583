package netstack

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countRelease counts Release calls for one injected buffer.
type countRelease struct{ n atomic.Int32 }

func (r *countRelease) Release() { r.n.Add(1) }

// TestInjectReleaseOnce checks that every buffer handed over with
// InjectRelease is released exactly once, and not before the queue is done
// with it, whichever way it leaves the queue.
func TestInjectReleaseOnce(t *testing.T) {
	type step struct {
		do   string // "inject", "read", "peek", "close"
		arg  string // bytes to inject, or bytes expected from a read/peek
		rels []int32
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"read fully", []step{
			{"inject", "abcd", []int32{0}},
			{"inject", "efgh", []int32{0, 0}},
			{"read", "abcdefgh", []int32{1, 1}},
		}},
		{"partial reads", []step{
			{"inject", "abcdef", []int32{0}},
			{"inject", "gh", []int32{0, 0}},
			{"read", "abcd", []int32{0, 0}},
			{"read", "efg", []int32{1, 0}},
			{"read", "h", []int32{1, 1}},
		}},
		{"peek", []step{
			{"inject", "abcd", []int32{0}},
			{"peek", "abcd", []int32{0}},
			{"peek", "ab", []int32{0}},
			{"read", "abcd", []int32{1}},
		}},
		{"close unread", []step{
			{"inject", "abcd", []int32{0}},
			{"inject", "efgh", []int32{0, 0}},
			{"read", "ab", []int32{0, 0}},
			{"close", "", []int32{1, 1}},
		}},
		{"closed", []step{
			{"close", "", nil},
			{"inject", "abcd", []int32{1}},
		}},
		{"empty", []step{
			{"inject", "", []int32{1}},
			{"inject", "ab", []int32{1, 0}},
			{"read", "ab", []int32{1, 1}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, Options{})
			_, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
			closed := false
			var rs []*countRelease
			for i, s := range tc.steps {
				switch s.do {
				case "inject":
					r := new(countRelease)
					rs = append(rs, r)
					err := srv.Raw().InjectRelease([]byte(s.arg), r)
					if closed {
						assert.ErrorIs(t, err, errno.EPIPE)
					} else {
						require.NoError(t, err)
					}
				case "read", "peek":
					flags := MSG_DONTWAIT
					if s.do == "peek" {
						flags |= MSG_PEEK
					}
					buf := make([]byte, len(s.arg))
					k, err := srv.RecvMsg(buf, flags)
					require.NoError(t, err)
					assert.Equal(t, s.arg, string(buf[:k]), "step %d", i)
				case "close":
					require.NoError(t, srv.Close())
					closed = true
				}
				got := make([]int32, len(rs))
				for j, r := range rs {
					got[j] = r.n.Load()
				}
				if s.rels == nil {
					s.rels = []int32{}
				}
				assert.Equal(t, s.rels, got, "releases after step %d (%s %q)", i, s.do, s.arg)
			}
			if !closed {
				require.NoError(t, srv.Close())
				for j, r := range rs {
					assert.EqualValues(t, 1, r.n.Load(), "buffer %d after close", j)
				}
			}
		})
	}
}

// poisonRelease overwrites its buffer when released, so a read of it
// after release shows.
type poisonRelease struct {
	countRelease
	b []byte
}

func (r *poisonRelease) Release() {
	for i := range r.b {
		r.b[i] = 0xff
	}
	r.countRelease.Release()
}

// TestInjectReleaseConcurrent has writers inject while a reader drains with
// odd-sized reads and a close ends it: every buffer is released exactly
// once, and no buffer is released while its bytes can still be read.
func TestInjectReleaseConcurrent(t *testing.T) {
	n := newNet(t, Options{})
	_, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	const writers, per = 4, 200
	all := make([][]*poisonRelease, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				tr := &poisonRelease{b: make([]byte, 1+(i*7+w)%50)}
				for k := range tr.b {
					tr.b[k] = byte(w)
				}
				all[w] = append(all[w], tr)
				if srv.Raw().InjectRelease(tr.b, tr) != nil {
					return
				}
			}
		}(w)
	}
	var read atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 13)
		for {
			k, err := srv.RecvMsg(buf, 0)
			if err != nil {
				return
			}
			for _, c := range buf[:k] {
				if c >= writers {
					t.Errorf("read byte %#x from a released buffer", c)
					return
				}
			}
			read.Add(int64(k))
		}
	}()
	wg.Wait()
	total := 0
	for _, ts := range all {
		for _, tr := range ts {
			total += len(tr.b)
		}
	}
	eventually(t, "reader to drain the queue", func() bool { return read.Load() == int64(total) })
	require.NoError(t, srv.Close())
	<-done
	for w, ts := range all {
		require.Len(t, ts, per)
		for i, tr := range ts {
			assert.EqualValues(t, 1, tr.n.Load(), "writer %d buffer %d", w, i)
		}
	}
}
