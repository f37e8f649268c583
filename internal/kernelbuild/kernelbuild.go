//go:build linux

// Package kernelbuild finds out which build of the kernel this process
// runs on, where builds under the same version string behave differently
// (runtime.KernelBuild lists the behaviours). Like cilium/ebpf's feature
// probes, each behaviour is probed once per process with a small BPF
// program run against a real socket, and the answer is cached; tests
// print it and have skmsg emulate the same build when they compare it
// with the kernel.
package kernelbuild

import (
	"encoding/binary"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/skmsg/skmsg/runtime"
)

var (
	once   sync.Once
	result runtime.KernelBuild
	err    error
)

// Probe returns the build variant of the running kernel. It needs what
// the kernel backend needs (root: BPF and network namespaces); the error
// says which probe failed and why.
func Probe() (runtime.KernelBuild, error) {
	once.Do(func() { result, err = probeAll() })
	return result, err
}

func probeAll() (runtime.KernelBuild, error) {
	var b runtime.KernelBuild
	if err := rlimit.RemoveMemlock(); err != nil {
		return b, fmt.Errorf("kernel build probe: raising RLIMIT_MEMLOCK: %w", err)
	}
	probes := []struct {
		name string
		run  func() (bool, error)
		set  *bool
	}{
		{"remote_port half load", probeRemotePortHalf, &b.RemotePortWholeHalf},
		{"stream parser calling bpf_skb_pull_data", probeParserPull, &b.ParserMayPull},
		{"send on a listener in a sockmap", probeListenerSend, &b.ListenerSendRunsMsg},
	}
	for _, p := range probes {
		var v bool
		err := inNetns(func() (err error) {
			v, err = p.run()
			return err
		})
		if err != nil {
			return b, fmt.Errorf("kernel build probe %q: %w", p.name, err)
		}
		*p.set = v
	}
	return b, nil
}

// inNetns runs f on a thread in a new network namespace with lo up, so
// probe sockets meet nothing else; the thread is discarded afterwards.
func inNetns(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// No UnlockOSThread: the thread dies with this goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		if err := loopbackUp(); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for ioctl: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("ifreq lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS lo: %w", err)
	}
	return nil
}

// Offsets into struct __sk_buff (uapi/linux/bpf.h).
const (
	skbOffLen        = 0
	skbOffRemotePort = 132
)

// recordInsns appends `info[key] = r2` (an array map of u64 values).
func recordInsns(info *ebpf.Map, key int32) asm.Instructions {
	return asm.Instructions{
		asm.StoreMem(asm.RFP, -8, asm.R2, asm.DWord),
		asm.StoreImm(asm.RFP, -12, int64(key), asm.Word),
		asm.LoadMapPtr(asm.R1, info.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -12),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -8),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
	}
}

func newInfo(n uint32) (*ebpf.Map, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: n})
	if err != nil {
		return nil, fmt.Errorf("creating the result array: %w", err)
	}
	return m, nil
}

func newSockMap() (*ebpf.Map, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.SockMap, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("creating a sockmap: %w", err)
	}
	return m, nil
}

func infoAt(info *ebpf.Map, key uint32) (uint64, error) {
	var v uint64
	if err := info.Lookup(key, &v); err != nil {
		return 0, fmt.Errorf("reading result %d: %w", key, err)
	}
	return v, nil
}

// tcpPair makes a listener on 127.0.0.1 and a connected pair through it.
type tcpPair struct{ listener, client, server int }

func newTCPPair() (*tcpPair, error) {
	p := &tcpPair{listener: -1, client: -1, server: -1}
	fail := func(what string, err error) (*tcpPair, error) {
		p.close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var err error
	if p.listener, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return fail("listener socket", err)
	}
	if err := unix.Bind(p.listener, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fail("bind 127.0.0.1", err)
	}
	if err := unix.Listen(p.listener, 4); err != nil {
		return fail("listen", err)
	}
	sa, err := unix.Getsockname(p.listener)
	if err != nil {
		return fail("getsockname", err)
	}
	if p.client, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return fail("client socket", err)
	}
	if err := unix.Connect(p.client, sa); err != nil {
		return fail("connect", err)
	}
	if err := waitReadable(p.listener, "the connection in the accept queue"); err != nil {
		return fail("accept", err)
	}
	if p.server, _, err = unix.Accept4(p.listener, unix.SOCK_CLOEXEC); err != nil {
		return fail("accept", err)
	}
	return p, nil
}

func (p *tcpPair) close() {
	for _, fd := range []int{p.client, p.server, p.listener} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// pollTimeout bounds every wait of a probe.
const pollTimeout = 2 * time.Second

func waitReadable(fd int, what string) error {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, int(pollTimeout/time.Millisecond))
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("waiting for %s: nothing after %v", what, pollTimeout)
	}
	return nil
}

// Narrow loads of __sk_buff.remote_port the remote_port probe records, in
// its result array's order.
var remotePortLoads = []struct {
	off  int16
	size asm.Size
}{
	{2, asm.Half}, {0, asm.Half}, {0, asm.Byte}, {1, asm.Byte}, {2, asm.Byte}, {3, asm.Byte}, {0, asm.Word},
}

// probeRemotePortHalf runs a stream verdict over one received byte that
// loads the upper half of remote_port with a 2-byte load: the earlier
// build returns the whole converted value (port << 16), the current one
// that half.
func probeRemotePortHalf() (bool, error) {
	info, err := newInfo(uint32(len(remotePortLoads)))
	if err != nil {
		return false, err
	}
	defer info.Close()
	sm, err := newSockMap()
	if err != nil {
		return false, err
	}
	defer sm.Close()
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	for i, l := range remotePortLoads {
		insns = append(insns, asm.LoadMem(asm.R2, asm.R6, skbOffRemotePort+l.off, l.size))
		insns = append(insns, recordInsns(info, int32(i))...)
	}
	insns = append(insns, asm.Mov.Imm(asm.R0, 1), asm.Return()) // SK_PASS
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SkSKB, AttachType: ebpf.AttachSkSKBStreamVerdict, License: "GPL", Instructions: insns,
	})
	if err != nil {
		return false, fmt.Errorf("loading the stream verdict: %w", err)
	}
	defer prog.Close()
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: sm.FD(), Program: prog, Attach: ebpf.AttachSkSKBStreamVerdict}); err != nil {
		return false, fmt.Errorf("attaching the stream verdict: %w", err)
	}
	p, err := newTCPPair()
	if err != nil {
		return false, err
	}
	defer p.close()
	if err := sm.Update(uint32(0), uint32(p.server), ebpf.UpdateAny); err != nil {
		return false, fmt.Errorf("inserting the accepted socket: %w", err)
	}
	if _, err := unix.Write(p.client, []byte{'x'}); err != nil {
		return false, fmt.Errorf("sending a byte: %w", err)
	}
	if err := waitReadable(p.server, "the byte the verdict passed"); err != nil {
		return false, err
	}
	var b [1]byte
	if _, err := unix.Read(p.server, b[:]); err != nil {
		return false, fmt.Errorf("reading the byte the verdict passed: %w", err)
	}
	csa, err := unix.Getsockname(p.client)
	if err != nil {
		return false, fmt.Errorf("getsockname: %w", err)
	}
	port := uint16(csa.(*unix.SockaddrInet4).Port)
	// The converted value as the kernel computes it: the port in network
	// order, shifted into the upper half of a host-order u32.
	var nbo [2]byte
	binary.BigEndian.PutUint16(nbo[:], port)
	whole := uint64(binary.LittleEndian.Uint16(nbo[:])) << 16
	got, err := infoAt(info, 0)
	if err != nil {
		return false, err
	}
	switch got {
	case whole:
		return true, nil
	case whole >> 16:
		return false, nil
	}
	return false, fmt.Errorf("2-byte load of remote_port+2 gave %#x for port %d: neither the whole value %#x nor its upper half", got, port, whole)
}

// probeParserPull attaches a stream parser that calls bpf_skb_pull_data:
// the current build refuses it with EINVAL.
func probeParserPull() (bool, error) {
	sm, err := newSockMap()
	if err != nil {
		return false, err
	}
	defer sm.Close()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SkSKB, AttachType: ebpf.AttachSkSKBStreamParser, License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.Mov.Imm(asm.R2, 0),
			asm.FnSkbPullData.Call(),
			asm.LoadMem(asm.R0, asm.R6, skbOffLen, asm.Word),
			asm.Return(),
		},
	})
	if err != nil {
		return false, fmt.Errorf("loading the stream parser: %w", err)
	}
	defer prog.Close()
	err = link.RawAttachProgram(link.RawAttachProgramOptions{Target: sm.FD(), Program: prog, Attach: ebpf.AttachSkSKBStreamParser})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EINVAL):
		return false, nil
	}
	return false, fmt.Errorf("attaching the stream parser: neither success nor EINVAL: %w", err)
}

// probeListenerSend puts a listener into a sockmap with an sk_msg program
// that counts its runs and sends on the listener: the current build fails
// the send with EPIPE without running the program.
func probeListenerSend() (bool, error) {
	info, err := newInfo(1)
	if err != nil {
		return false, err
	}
	defer info.Close()
	sm, err := newSockMap()
	if err != nil {
		return false, err
	}
	defer sm.Close()
	insns := asm.Instructions{asm.Mov.Imm(asm.R2, 1)}
	insns = append(insns, recordInsns(info, 0)...)
	insns = append(insns, asm.Mov.Imm(asm.R0, 1), asm.Return()) // SK_PASS
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SkMsg, AttachType: ebpf.AttachSkMsgVerdict, License: "GPL", Instructions: insns,
	})
	if err != nil {
		return false, fmt.Errorf("loading the sk_msg program: %w", err)
	}
	defer prog.Close()
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: sm.FD(), Program: prog, Attach: ebpf.AttachSkMsgVerdict}); err != nil {
		return false, fmt.Errorf("attaching the sk_msg program: %w", err)
	}
	l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("listener socket: %w", err)
	}
	defer unix.Close(l)
	if err := unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return false, fmt.Errorf("bind 127.0.0.1: %w", err)
	}
	if err := unix.Listen(l, 4); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	if err := sm.Update(uint32(0), uint32(l), ebpf.UpdateAny); err != nil {
		return false, fmt.Errorf("inserting the listener: %w", err)
	}
	_, serr := unix.SendmsgN(l, []byte("x"), nil, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
	runs, err := infoAt(info, 0)
	if err != nil {
		return false, err
	}
	switch {
	case runs == 0 && errors.Is(serr, unix.EPIPE):
		return false, nil
	case runs != 0:
		return true, nil
	}
	return false, fmt.Errorf("send on the listener returned %v without running the sk_msg program: expected EPIPE", serr)
}
