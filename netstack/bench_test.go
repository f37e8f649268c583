package netstack

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// Each benchmark runs the same writer/reader loop over kernel loopback TCP
// (real sockets on 127.0.0.1) and over a netstack pair, and the netstack
// run reports its rate as a ratio of the kernel's ("x_kernel").

var kernelRate sync.Map // benchmark name -> ops/s of the kernel run

func kernelPair(b *testing.B) (net.Conn, net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Skipf("kernel loopback unavailable: %v", err)
	}
	defer l.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	cli, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		b.Fatal(r.err)
	}
	return cli, r.c
}

func netstackPair(b *testing.B, opts Options) (*Network, net.Conn, net.Conn) {
	n := New(opts)
	cli, srv, err := n.Pipe("10.0.0.1", "10.0.0.2:80")
	if err != nil {
		b.Fatal(err)
	}
	return n, cli, srv
}

// stream writes b.N chunks of size bytes on w while reading them on r.
func stream(b *testing.B, w, r net.Conn, size int) float64 {
	msg := make([]byte, size)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, size)
		var err error
		for i := 0; i < b.N; i++ {
			if _, err = io.ReadFull(r, buf); err != nil {
				break
			}
		}
		done <- err
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	rate := float64(b.N) / el.Seconds()
	b.ReportMetric(rate, "msg/s")
	return rate
}

func benchBoth(b *testing.B, size int, opts Options, wrap func(cli, srv *Conn)) {
	b.Run("kernel", func(b *testing.B) {
		cli, srv := kernelPair(b)
		defer cli.Close()
		defer srv.Close()
		rate := stream(b, cli, srv, size)
		kernelRate.Store(b.Name(), rate)
	})
	b.Run("netstack", func(b *testing.B) {
		n, cli, srv := netstackPair(b, opts)
		defer n.Close()
		if wrap != nil {
			wrap(cli.(*Conn), srv.(*Conn))
		}
		rate := stream(b, cli, srv, size)
		kname := b.Name()[:len(b.Name())-len("netstack")] + "kernel"
		if k, ok := kernelRate.Load(kname); ok {
			b.ReportMetric(rate/k.(float64), "x_kernel")
		}
	})
}

// Bulk throughput with 16 KiB writes; the link MTU is 64 KiB like lo.
func BenchmarkThroughput16K(b *testing.B) { benchBoth(b, 16<<10, Options{}, nil) }

// The same on an Ethernet-sized MTU: many more segments per byte.
func BenchmarkThroughput16KMTU1500(b *testing.B) { benchBoth(b, 16<<10, Options{MTU: 1500}, nil) }

// Message rate with 64-byte writes, each read back whole.
func BenchmarkMessages64(b *testing.B) { benchBoth(b, 64, Options{}, nil) }

// The runtime's paths: every write through a send hook that passes to TCP,
// every arrival through a recv hook that moves bytes to the ingress queue.
func BenchmarkMessages64Hooks(b *testing.B) {
	benchBoth(b, 64, Options{}, func(cli, srv *Conn) {
		cli.Raw().SetSendHook(func(c *Conn, iov [][]byte, flags int) (int, error) {
			return c.Raw().SendTCPv(iov, flags)
		})
		buf := make([]byte, 64<<10)
		srv.Raw().SetRecvHook(func(c *Conn) {
			for {
				k, err := c.Raw().RecvTCP(buf)
				if k > 0 {
					c.Raw().Inject(buf[:k])
				}
				if err != nil {
					return
				}
			}
		})
	})
}

// BenchmarkClock streams 64 KiB writes over a netstack pair on the wall
// clock (tcpip's StdClock) and on the default VirtualClock; the virtual
// run reports its rate as a ratio of the wall clock's ("x_wall"), which
// shows what timing TCP in frames instead of real time costs.
func BenchmarkClock(b *testing.B) {
	var wall float64
	for _, c := range []struct {
		name  string
		clock func() tcpip.Clock
	}{{"wall", tcpip.NewStdClock}, {"virtual", func() tcpip.Clock { return NewVirtualClock() }}} {
		b.Run(c.name, func(b *testing.B) {
			n, cli, srv := netstackPair(b, Options{Clock: c.clock()})
			defer n.Close()
			rate := stream(b, cli, srv, 64<<10)
			if c.name == "wall" {
				wall = rate
			} else if wall > 0 {
				b.ReportMetric(rate/wall, "x_wall")
			}
		})
	}
}
