package netstack

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// TestSameTrafficSamePcap runs one conversation twice, each step waited
// for before the next, and wants the two captures byte for byte equal:
// initial sequence numbers, TCP timestamps and capture timestamps all come
// from the virtual clock. Each write fits one segment: the segments of a
// larger one leave while the receiver's ACKs come back, in an order the
// scheduler picks.
func TestSameTrafficSamePcap(t *testing.T) {
	run := func() []byte {
		n := New(Options{Seed: 3})
		defer n.Close()
		var buf bytes.Buffer
		c, err := n.Capture(&buf, CaptureOptions{})
		require.NoError(t, err)
		cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
		waitIdle(t, n)
		for _, w := range []struct {
			from, to *Conn
			msg      string
		}{{cli, srv, "hello"}, {srv, cli, "world"}, {cli, srv, string(make([]byte, 60_000))}} {
			_, err := w.from.Write([]byte(w.msg))
			require.NoError(t, err)
			waitIdle(t, n)
			got := make([]byte, len(w.msg))
			_, err = io.ReadFull(w.to, got)
			require.NoError(t, err)
			waitIdle(t, n)
		}
		require.NoError(t, cli.Close())
		waitIdle(t, n)
		require.NoError(t, srv.Close())
		waitIdle(t, n)
		require.NoError(t, c.Close())
		return buf.Bytes()
	}
	a, b := run(), run()
	require.Greater(t, len(a), 24, "the capture holds frames")
	if !bytes.Equal(a, b) {
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		t.Fatalf("captures of the same traffic differ: %d and %d bytes, first difference at byte %d", len(a), len(b), i)
	}
}

func TestVirtualClock(t *testing.T) {
	// wait waits for the network as a blocking call would: timers fire
	// only during such waits (or after their cap).
	wait := func(t *testing.T, c *VirtualClock, ch <-chan tcpip.MonotonicTime, what string) tcpip.MonotonicTime {
		t.Helper()
		defer c.wait()()
		select {
		case v := <-ch:
			return v
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
			return tcpip.MonotonicTime{}
		}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, c *VirtualClock)
	}{
		{"frames move it by FrameTime each", func(t *testing.T, c *VirtualClock) {
			before := c.Since()
			for i := 0; i < 3; i++ {
				c.frame()
			}
			require.Equal(t, 3*FrameTime, c.Since()-before)
			require.Equal(t, virtualEpoch.Add(c.Since()), c.Now())
		}},
		{"a timer's callback reads its deadline; a frame it sends keeps it", func(t *testing.T, c *VirtualClock) {
			start := c.NowMonotonic()
			got := make(chan tcpip.MonotonicTime, 1)
			c.AfterFunc(3*time.Millisecond, func() {
				now := c.NowMonotonic()
				c.frame()
				got <- now
			})
			require.Equal(t, 3*time.Millisecond, wait(t, c, got, "the timer").Sub(start))
			eventually(t, "the callback's end", func() bool { return c.NowMonotonic().Sub(start) == 3*time.Millisecond+FrameTime })
		}},
		{"a callback that sends nothing moves nothing", func(t *testing.T, c *VirtualClock) {
			start := c.NowMonotonic()
			got := make(chan tcpip.MonotonicTime, 1)
			c.AfterFunc(time.Millisecond, func() { got <- c.NowMonotonic() })
			require.Equal(t, time.Millisecond, wait(t, c, got, "the timer").Sub(start), "the callback reads its deadline")
			eventually(t, "the callback's end", func() bool { return c.NowMonotonic() == start })
		}},
		{"only the callback's goroutine sees its deadline", func(t *testing.T, c *VirtualClock) {
			start := c.NowMonotonic()
			got := make(chan tcpip.MonotonicTime, 2)
			c.AfterFunc(time.Millisecond, func() {
				other := make(chan tcpip.MonotonicTime)
				go func() { other <- c.NowMonotonic() }()
				got <- <-other
				got <- c.NowMonotonic()
			})
			require.Equal(t, start, wait(t, c, got, "another goroutine's reading"), "another goroutine")
			require.Equal(t, time.Millisecond, wait(t, c, got, "the callback's reading").Sub(start), "the callback")
		}},
		{"silence counts only time spent waiting", func(t *testing.T, c *VirtualClock) {
			require.Zero(t, c.silence(), "nothing waited")
			done := c.wait()
			eventually(t, "a millisecond of silence while waiting", func() bool { return c.silence() >= time.Millisecond })
			done()
			s := c.silence()
			require.GreaterOrEqual(t, s, time.Millisecond, "the wait's silence is kept after it ends")
			c.frame()
			require.Zero(t, c.silence(), "a frame ends the silence")
		}},
		{"Stop before it fires", func(t *testing.T, c *VirtualClock) {
			tm := c.AfterFunc(time.Hour, func() { panic("stopped timer fired") })
			require.True(t, tm.Stop())
			require.False(t, tm.Stop(), "already stopped")
		}},
		{"Reset re-arms from the current time", func(t *testing.T, c *VirtualClock) {
			got := make(chan tcpip.MonotonicTime, 1)
			tm := c.AfterFunc(time.Hour, func() { got <- c.NowMonotonic() })
			c.frame()
			start := c.NowMonotonic()
			tm.Reset(2 * time.Millisecond)
			require.Equal(t, 2*time.Millisecond, wait(t, c, got, "the reset timer").Sub(start))
			require.False(t, tm.Stop(), "already fired")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, NewVirtualClock()) })
	}
}

func ExampleVirtualClock() {
	c := NewVirtualClock()
	fmt.Println(c.Now().Format(time.RFC3339Nano), c.Since())
	c.Advance(1500 * time.Microsecond)
	fmt.Println(c.Now().Format(time.RFC3339Nano), c.Since())
	// Output:
	// 2000-01-01T00:00:00Z 0s
	// 2000-01-01T00:00:00.0015Z 1.5ms
}
