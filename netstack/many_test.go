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
	const conns = 1000
	n := New(Options{Seed: 9})
	var established sync.Map
	n.SetHooks(Hooks{OnEstablished: func(c *Conn, active bool) {
		if !active {
			established.Store(c.RemoteAddrPort(), true)
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

	// Spread clients over 10 hosts, 100 connections each, dialled in
	// parallel.
	clients := make([]*Conn, conns)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for h := 0; h < 10; h++ {
		wg.Add(1)
		go func(h int) {
			defer wg.Done()
			for i := 0; i < conns/10; i++ {
				c, err := n.Dial(fmt.Sprintf("10.0.0.%d", h+1), "10.1.0.1:443")
				if err != nil {
					errs <- err
					return
				}
				clients[h*(conns/10)+i] = c
			}
		}(h)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	waitIdle(t, n)
	count := 0
	established.Range(func(any, any) bool { count++; return true })
	assert.Equal(t, conns, count, "every passive side went through OnEstablished")

	for i, c := range clients {
		wg.Add(1)
		go func(i int, c *Conn) {
			defer wg.Done()
			msg := []byte(fmt.Sprintf("conn %d", i))
			if _, err := c.Write(msg); err != nil {
				t.Error(err)
				return
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Error(err)
				return
			}
			assert.Equal(t, msg, got)
			assert.NoError(t, c.Close())
		}(i, c)
	}
	wg.Wait()
	waitIdle(t, n)
	require.NoError(t, l.Close())
	require.NoError(t, n.Close())
}
