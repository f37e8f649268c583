//go:build linux

package runtime_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/netstack"
	"github.com/skmsg/skmsg/runtime"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// BenchmarkRxRedirectIngress measures the receive path end to end: a
// writer sends fixed-size messages on a.client; a.server's stream parser
// frames them, its verdict redirects each to b.server's ingress queue and
// a reader drains b.server. The same object runs on the kernel (real
// loopback sockets in a namespace of their own) and on skmsg; the skmsg
// run reports its message rate as a ratio of the kernel's (x_kernel).

var rxKernelRate sync.Map // [size, frame] -> msgs/s on the kernel

var rxBenchSizes = []int{64, 1024, 16384}

// Two parsers: "fixed" returns the message size (frames exactly the
// writes, however TCP segments them), "skblen" returns skb->len (a
// message per arrival, the common shortcut).
func BenchmarkRxRedirectIngress(b *testing.B) {
	for _, parser := range []string{"fixed", "skblen"} {
		for _, size := range rxBenchSizes {
			frame := uint32(size)
			if parser == "skblen" {
				frame = 0
			}
			b.Run(fmt.Sprintf("%s/%d/kernel", parser, size), func(b *testing.B) { benchRxKernel(b, size, frame) })
			b.Run(fmt.Sprintf("%s/%d/skmsg", parser, size), func(b *testing.B) { benchRxSkmsg(b, size, frame) })
		}
	}
}

// pump writes b.N messages of size bytes on w and reads them all from r;
// it returns the elapsed time.
func rxPump(b *testing.B, size int, w io.Writer, r io.Reader) time.Duration {
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i)
	}
	total := b.N * size
	errc := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() {
		for i := 0; i < b.N; i++ {
			if _, err := w.Write(msg); err != nil {
				errc <- fmt.Errorf("write %d: %w", i, err)
				return
			}
		}
		errc <- nil
	}()
	buf := make([]byte, 256<<10)
	got := 0
	for got < total {
		n, err := r.Read(buf)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			b.Fatalf("read after %d of %d bytes: %v", got, total, err)
		}
		got += n
	}
	el := time.Since(start)
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return el
}

func rxReport(b *testing.B, size int, frame uint32, el time.Duration, kernel bool) {
	rate := float64(b.N) / el.Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(rate*float64(size)/1e6, "MB/s")
	if kernel {
		rxKernelRate.Store([2]int{size, int(frame)}, rate)
		return
	}
	if k, ok := rxKernelRate.Load([2]int{size, int(frame)}); ok {
		b.ReportMetric(rate/k.(float64), "x_kernel")
	}
}

func benchRxSkmsg(b *testing.B, size int, frame uint32) {
	obj, err := loader.Open(testobj.Path("rx", "strp.o"))
	if err != nil {
		b.Fatal(err)
	}
	rt := runtime.New(runtime.Options{Network: netstack.Options{MTU: 65535, ChecksumOffload: true}})
	defer rt.Close()
	coll, err := rt.Load(obj)
	if err != nil {
		b.Fatal(err)
	}
	sm, _ := coll.SockMap("sock_map")
	rxMust(b, rt.Attach(coll.Programs["parser_fixed"], sm, ebpf.AttachSkSKBStreamParser))
	rxMust(b, rt.Attach(coll.Programs["verdict_cfg"], sm, ebpf.AttachSkSKBStreamVerdict))
	cfg := coll.Maps["config"]
	for k, v := range []uint32{frame, 2, 1, 1} {
		rxMust(b, cfg.Put(uint32(k), v))
	}
	ac, as, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
	rxMust(b, err)
	_, bs, err := rt.Net().Pipe("10.0.0.3", "10.0.0.4:80")
	rxMust(b, err)
	rxMust(b, sm.Put(uint32(0), as))
	rxMust(b, sm.Put(uint32(1), bs))
	rxReport(b, size, frame, rxPump(b, size, ac, bs), false)
}

func rxMust(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// rxFD is a blocking socket descriptor as an io.ReadWriter.
type rxFD int

func (f rxFD) Read(p []byte) (int, error) {
	n, err := unix.Read(int(f), p)
	if n < 0 {
		n = 0
	}
	return n, err
}

func (f rxFD) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(int(f), p[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// inNetns runs f on a thread in a fresh network namespace with lo up; the
// thread is discarded afterwards.
func rxInNetns(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		if err := rxLoUp(); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

func rxLoUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// kernelPair makes an established loopback pair (in the calling thread's
// namespace).
func rxKernelPair() (cli, srv int, err error) {
	l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	defer unix.Close(l)
	if err := unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return -1, -1, err
	}
	if err := unix.Listen(l, 4); err != nil {
		return -1, -1, err
	}
	sa, err := unix.Getsockname(l)
	if err != nil {
		return -1, -1, err
	}
	cli, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	if err := unix.Connect(cli, sa); err != nil {
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

func benchRxKernel(b *testing.B, size int, frame uint32) {
	if err := kernel.Available(); err != nil {
		b.Skip(err)
	}
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("rx", "strp.o"))
	rxMust(b, err)
	coll, err := ebpf.NewCollection(spec)
	rxMust(b, err)
	defer coll.Close()
	sm := coll.Maps["sock_map"]
	for _, a := range []struct {
		prog string
		at   ebpf.AttachType
	}{{"parser_fixed", ebpf.AttachSkSKBStreamParser}, {"verdict_cfg", ebpf.AttachSkSKBStreamVerdict}} {
		rxMust(b, link.RawAttachProgram(link.RawAttachProgramOptions{Target: sm.FD(), Program: coll.Programs[a.prog], Attach: a.at}))
	}
	for k, v := range []uint32{frame, 2, 1, 1} {
		rxMust(b, coll.Maps["config"].Put(uint32(k), v))
	}
	var fds [4]int
	rxMust(b, rxInNetns(func() error {
		var err error
		if fds[0], fds[1], err = rxKernelPair(); err != nil {
			return err
		}
		fds[2], fds[3], err = rxKernelPair()
		return err
	}))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for k, fd := range []int{fds[1], fds[3]} {
		v := make([]byte, 8)
		binary.NativeEndian.PutUint64(v, uint64(fd))
		rxMust(b, sm.Update(uint32(k), v, ebpf.UpdateAny))
	}
	rxReport(b, size, frame, rxPump(b, size, rxFD(fds[0]), rxFD(fds[3])), true)
}

var _ net.Conn = (*netstack.Conn)(nil)
