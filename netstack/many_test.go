package netstack

import (
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestManyConnections sets up 1,000 connections that are all open at once,
// moves a few bytes on each, tears them all down and checks that nothing
// the network started is left running.
func TestManyConnections(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const conns, hosts = 1000, 10
	n := New(Options{Seed: 9})
	defer n.Close()
	var established sync.Map
	n.SetHooks(Hooks{OnEstablished: func(c *Conn, active bool) {
		if !active {
			established.Store(c.RemoteAddrPort(), c)
		}
	}})
	l, err := n.Listen("10.1.0.1:443")
	require.NoError(t, err)
	go func() {
		for {
			c, err := l.AcceptConn()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()

	// One worker per client host; every connection stays open until all
	// are established. (A goroutine per connection doing traffic would
	// starve gVisor's few processor goroutines on two cores and make
	// retransmission timers fire spuriously.)
	clients := make([]*Conn, conns)
	perHost := conns / hosts
	work := func(fn func(h, i int) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, hosts)
		for h := 0; h < hosts; h++ {
			wg.Add(1)
			go func(h int) {
				defer wg.Done()
				for i := h * perHost; i < (h+1)*perHost; i++ {
					if err := fn(h, i); err != nil {
						errs <- err
						return
					}
				}
			}(h)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
	work(func(h, i int) (err error) {
		clients[i], err = n.Dial(fmt.Sprintf("10.0.0.%d", h+1), "10.1.0.1:443")
		return err
	})
	waitIdle(t, n)
	count := 0
	established.Range(func(any, any) bool { count++; return true })
	assert.Equal(t, conns, count, "every passive side went through OnEstablished")
	for _, c := range clients {
		assert.Equal(t, StateEstablished, c.Raw().State())
	}

	work(func(h, i int) error {
		c := clients[i]
		msg := []byte(fmt.Sprintf("conn %d", i))
		if _, err := c.Write(msg); err != nil {
			return err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		if string(got) != string(msg) {
			return fmt.Errorf("conn %d echoed %q", i, got)
		}
		return c.Close()
	})
	waitIdle(t, n)
	established.Range(func(_, v any) bool {
		assert.Contains(t, []TCPState{StateClose, StateLastAck, StateTimeWait}, v.(*Conn).Raw().State())
		return true
	})
	require.NoError(t, l.Close())
	require.NoError(t, n.Close())
}
