//go:build linux

package runtime_test

import (
	"errors"
	"fmt"
	"io"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/runtime"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// BenchmarkSkMsg measures the sk_msg send path on skmsg and on the running
// kernel in the same run, with the same object: pass, redirect to another
// socket's egress, redirect to another socket's ingress, at 64 B, 1 KiB and
// 16 KiB messages. Each sub-benchmark sends b.N messages on both and reports
// messages per second and bytes per second of each, and skmsg/kernel.
// Without BPF on the machine only skmsg is measured.
func BenchmarkSkMsg(b *testing.B) {
	kernelErr := kernel.Available()
	for _, mode := range []string{"pass", "egress", "ingress"} {
		for _, size := range []int{64, 1024, 16384} {
			b.Run(fmt.Sprintf("%s/%d", mode, size), func(b *testing.B) {
				sk := newSkmsgBench(b, mode)
				defer sk.close()
				var kb *kernelBench
				if kernelErr == nil {
					var err error
					if kb, err = newKernelBench(mode); err != nil {
						b.Fatal(err)
					}
					defer kb.close()
				}
				msg := make([]byte, size)
				// Alternate between the two in rounds so that load from
				// elsewhere on the machine hits both alike.
				const rounds = 8
				var skTime, kTime time.Duration
				b.ResetTimer()
				for r := 0; r < rounds; r++ {
					n := b.N / rounds
					if r == rounds-1 {
						n = b.N - n*(rounds-1)
					}
					skTime += pump(b, n, msg, sk.write, sk.read)
					if kb != nil {
						b.StopTimer()
						kTime += pump(b, n, msg, kb.write, kb.read)
						b.StartTimer()
					}
				}
				b.StopTimer()
				rate := float64(b.N) / skTime.Seconds()
				b.ReportMetric(rate, "skmsg-msg/s")
				b.ReportMetric(rate*float64(size)/1e6, "skmsg-MB/s")
				if kb == nil {
					return
				}
				krate := float64(b.N) / kTime.Seconds()
				b.ReportMetric(krate, "kernel-msg/s")
				b.ReportMetric(krate*float64(size)/1e6, "kernel-MB/s")
				b.ReportMetric(rate/krate, "skmsg/kernel")
			})
		}
	}
}

// pump writes n messages from one goroutine and reads them all from
// another, returning the time until the last byte was read.
func pump(b *testing.B, n int, msg []byte, write func([]byte) error, read func([]byte) (int, error)) time.Duration {
	total := n * len(msg)
	start := time.Now()
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := write(msg); err != nil {
				werr = err
				return
			}
		}
	}()
	buf := make([]byte, 256<<10)
	got := 0
	for got < total {
		k, err := read(buf)
		if err != nil {
			b.Fatalf("read after %d of %d bytes: %v", got, total, err)
		}
		got += k
	}
	d := time.Since(start)
	wg.Wait()
	if werr != nil {
		b.Fatal(werr)
	}
	return d
}

type skmsgBench struct {
	rt    *runtime.Runtime
	write func([]byte) error
	read  func([]byte) (int, error)
}

func newSkmsgBench(b *testing.B, mode string) *skmsgBench {
	obj, err := loader.Open(testobj.Path("runtime", "sockmap_msg.o"))
	if err != nil {
		b.Fatal(err)
	}
	rt := runtime.New(runtime.Options{Network: netstackBenchOptions})
	coll, err := rt.Load(obj)
	if err != nil {
		b.Fatal(err)
	}
	sm, _ := coll.SockMap("sock_map")
	prog := map[string]string{"pass": "msg_pass", "egress": "msg_redir_egress", "ingress": "msg_redir_ingress"}[mode]
	if err := rt.Attach(coll.Programs[prog], sm, ebpf.AttachSkMsgVerdict); err != nil {
		b.Fatal(err)
	}
	c1, p1, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
	if err != nil {
		b.Fatal(err)
	}
	c2, p2, err := rt.Net().Pipe("10.0.0.3", "10.0.0.4:80")
	if err != nil {
		b.Fatal(err)
	}
	if err := sm.Update(uint32(0), p2, 0); err != nil {
		b.Fatal(err)
	}
	if err := sm.Update(uint32(1), c1, 0); err != nil {
		b.Fatal(err)
	}
	sb := &skmsgBench{rt: rt}
	sb.write = func(m []byte) error {
		_, err := c1.Write(m)
		return err
	}
	var from *runtime.Socket
	switch mode {
	case "pass":
		from = p1
	case "egress":
		from = c2
	case "ingress":
		from = p2
	}
	sb.read = func(buf []byte) (int, error) {
		n, err := from.Read(buf)
		if errors.Is(err, io.EOF) {
			return n, io.ErrUnexpectedEOF
		}
		return n, err
	}
	return sb
}

func (s *skmsgBench) close() { s.rt.Close() }

// kernelBench is the same topology on the running kernel, in a network
// namespace of its own.
type kernelBench struct {
	coll  *ebpf.Collection
	fds   []int
	write func([]byte) error
	read  func([]byte) (int, error)
}

func newKernelBench(mode string) (*kernelBench, error) {
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("runtime", "sockmap_msg.o"))
	if err != nil {
		return nil, err
	}
	prog := map[string]string{"pass": "msg_pass", "egress": "msg_redir_egress", "ingress": "msg_redir_ingress"}[mode]
	for name := range spec.Programs {
		if name != prog {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, err
	}
	kb := &kernelBench{coll: coll}
	sm := coll.Maps["sock_map"]
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: sm.FD(), Program: coll.Programs[prog], Attach: ebpf.AttachSkMsgVerdict}); err != nil {
		kb.close()
		return nil, err
	}
	var c1, p1, c2, p2 int
	err = inNetns(func() error {
		var err error
		if c1, p1, err = kernelPair(); err != nil {
			return err
		}
		c2, p2, err = kernelPair()
		return err
	})
	if err != nil {
		kb.close()
		return nil, err
	}
	kb.fds = []int{c1, p1, c2, p2}
	// Redirected data is charged to the target's receive memory (§10).
	for _, fd := range kb.fds {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	if err := sm.Update(uint32(0), uint32(p2), 0); err != nil {
		kb.close()
		return nil, err
	}
	if err := sm.Update(uint32(1), uint32(c1), 0); err != nil {
		kb.close()
		return nil, err
	}
	kb.write = func(m []byte) error {
		for len(m) > 0 {
			n, err := unix.Write(c1, m)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			m = m[n:]
		}
		return nil
	}
	from := map[string]int{"pass": p1, "egress": c2, "ingress": p2}[mode]
	kb.read = func(buf []byte) (int, error) {
		for {
			n, err := unix.Read(from, buf)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				// tcp_bpf_recvmsg returns EAGAIN even on a blocking
				// socket when a wakeup finds no psock data: wait again.
				unix.Poll([]unix.PollFd{{Fd: int32(from), Events: unix.POLLIN}}, 1000)
				continue
			}
			if n == 0 && err == nil {
				return 0, io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return kb, nil
}

func (k *kernelBench) close() {
	for _, fd := range k.fds {
		unix.Close(fd)
	}
	k.coll.Close()
}

// inNetns runs f on a thread in a fresh network namespace with lo up; the
// thread is thrown away afterwards.
func inNetns(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			errc <- err
			return
		}
		ifr, err := unix.NewIfreq("lo")
		if err == nil {
			ifr.SetUint16(unix.IFF_UP | unix.IFF_RUNNING)
			err = unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
		}
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("bringing lo up: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// kernelPair makes a connected loopback TCP pair.
func kernelPair() (cli, srv int, err error) {
	l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	defer unix.Close(l)
	sa := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(l, sa); err != nil {
		return -1, -1, err
	}
	if err := unix.Listen(l, 8); err != nil {
		return -1, -1, err
	}
	bound, err := unix.Getsockname(l)
	if err != nil {
		return -1, -1, err
	}
	cli, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	if err := unix.Connect(cli, bound); err != nil {
		unix.Close(cli)
		return -1, -1, err
	}
	srv, _, err = unix.Accept4(l, unix.SOCK_CLOEXEC)
	if err != nil {
		unix.Close(cli)
		return -1, -1, err
	}
	return cli, srv, nil
}

func kernelAvailable() error { return kernel.Available() }
