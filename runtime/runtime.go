package runtime

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skmsg/skmsg/netstack"
	"github.com/skmsg/skmsg/runtime/bpf"
	"github.com/skmsg/skmsg/vm"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// Options configure a Runtime. The zero value is usable.
type Options struct {
	// Network configures the virtual network the runtime creates.
	Network netstack.Options
	// Seed seeds bpf_get_prandom_u32 and the network.
	Seed int64
	// NumCPU is the number of CPUs programs and per-CPU maps see; 0 means 1.
	NumCPU int
	// Budget is the instruction budget of one program run; 0 means the
	// vm's default (1,000,000).
	Budget uint64
	// Clock is the virtual time for bpf_ktime_get_ns and friends; nil
	// means the network's clock (Network.Clock, a netstack.VirtualClock
	// unless set), read so that each reading is 1µs past the one before
	// at least.
	Clock bpf.Clock
	// Observer, when set, sees every program run.
	Observer Observer
	// Tracer, when set, traces every instruction of every run.
	Tracer vm.Tracer
	// Coverage, when set, is told every instruction every run executes
	// (a *cover.Recorder); without it runs pay nothing for coverage.
	Coverage vm.Coverage
	// Printk, when set, receives every line programs print with
	// bpf_printk, synchronously on the path that ran the program; the
	// event is only valid during the call. Unset, the lines are dropped.
	Printk func(ev *PrintkEvent)
	// NoVerify skips the static verifier (package verifier) when loading
	// programs: a program the kernel would refuse then loads and runs,
	// with only the interpreter's run-time checks to stop it.
	NoVerify bool
	// Kernel selects which build's behaviour to emulate where builds of
	// the same kernel version differ; the zero value is the current one.
	Kernel KernelBuild
}

// Runtime is one emulated kernel: a virtual network, its sockets numbered
// like descriptors, maps and programs.
type Runtime struct {
	opts     Options
	net      *netstack.Network
	registry *bpf.Registry
	cookies  atomic.Uint64
	base     vm.Helpers
	helpers  *bpf.Helpers

	fdMu sync.Mutex
	fds  []*Socket // index = descriptor number

	sockopsMu sync.Mutex
	sockops   []*Program

	// runMu makes program runs one at a time, each with its observer
	// and tracer calls: the emulated machine has one CPU, where the
	// kernel's socket locks and softirq processing never interleave two
	// runs. Runs on behalf of different sockets are ordered by the paths
	// that start them (netstack's handshake order, per-socket receive
	// workers, the sender's call); runMu keeps them from overlapping, so
	// map memory and traces see one run after another.
	runMu sync.Mutex

	// egressRoom: psocks whose egress redirect waits for send buffer
	// room anywhere (psock_backlog.go).
	egressRoom roomWait
	// held: psocks with deliveries held for room (psock_backlog.go).
	held heldSet
}

// firstFD is the first descriptor number handed out (0, 1, 2 are stdio).
const firstFD = 3

// New makes a runtime with its own virtual network.
func New(opts Options) *Runtime {
	nopts := opts.Network
	if nopts.Seed == 0 {
		nopts.Seed = opts.Seed
	}
	rt := &Runtime{opts: opts, net: netstack.New(nopts), registry: bpf.NewRegistry()}
	// Socket cookies in the kernel start above the init netns's own
	// sockets; the exact base is not observable, only uniqueness.
	rt.cookies.Store(0x1000)
	clock := opts.Clock
	if clock == nil {
		nc := rt.net.Clock()
		clock = &bpf.SourceClock{Source: func() uint64 {
			return uint64(nc.NowMonotonic().Sub(tcpip.MonotonicTime{}))
		}}
	}
	env := bpf.Env{
		Registry: rt.registry,
		Clock:    clock,
		Rand:     bpf.NewSeededRand(uint64(opts.Seed)),
		Socket:   socketArg,
	}
	if opts.Printk != nil {
		env.Printk = rt.printk
	}
	rt.base, rt.helpers = bpf.BaseHelpers(env)
	rt.net.SetHooks(netstack.Hooks{
		OnConnect:     rt.onConnect,
		OnSynRecv:     rt.onSynRecv,
		OnEstablished: rt.onEstablished,
		OnListen:      rt.onListen,
		OnClose:       rt.onClose,
	})
	rt.net.AddIdleCheck(rt.heldBusy)
	return rt
}

// Close tears the network down.
func (rt *Runtime) Close() error {
	rt.fdMu.Lock()
	socks := append([]*Socket(nil), rt.fds...)
	rt.fdMu.Unlock()
	// One socket at a time, each close's FIN handshake (or RST) finished
	// before the next: the segments of the teardown then cross the link in
	// one order, and all of them before it goes down, so two runs of the
	// same traffic capture the same frames. Each close gets closeSettle:
	// a bound for all of them ran out on a loaded machine with hundreds
	// of connections, and the rest then closed at once, their FINs
	// crossing (testdata/stress/sockops_many_connections.yaml captured
	// 1,321 or 1,397 frames beside CPU hogs). A teardown that does not
	// settle (a peer that never reads holds a FIN behind its zero window)
	// ends the waiting: the closes after it do not wait, and the network
	// resets what is left.
	settling := true
	for _, s := range socks {
		if s != nil {
			s.Close()
			if settling && rt.WaitIdle(time.Now().Add(closeSettle)) != nil {
				settling = false
			}
		}
	}
	return rt.net.Close()
}

// closeSettle bounds how long Close waits for one closed socket's FIN
// handshake.
const closeSettle = 2 * time.Second

// Registry resolves map handles of loaded programs.
func (rt *Runtime) Registry() *bpf.Registry { return rt.registry }

// NumCPU is the number of CPUs the runtime emulates.
func (rt *Runtime) NumCPU() int {
	if rt.opts.NumCPU <= 0 {
		return 1
	}
	return rt.opts.NumCPU
}

// WaitIdle waits until nothing is in flight in the network and no queued
// work is pending, or the deadline passes.
func (rt *Runtime) WaitIdle(deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	return rt.net.WaitIdle(ctx)
}

func (rt *Runtime) installFD(s *Socket) {
	rt.fdMu.Lock()
	defer rt.fdMu.Unlock()
	for i := firstFD; i < len(rt.fds); i++ {
		if rt.fds[i] == nil {
			rt.fds[i] = s
			s.fd = int32(i)
			return
		}
	}
	for len(rt.fds) < firstFD {
		rt.fds = append(rt.fds, nil)
	}
	s.fd = int32(len(rt.fds))
	rt.fds = append(rt.fds, s)
}

func (rt *Runtime) freeFD(s *Socket) {
	rt.fdMu.Lock()
	defer rt.fdMu.Unlock()
	if int(s.fd) < len(rt.fds) && rt.fds[s.fd] == s {
		rt.fds[s.fd] = nil
	}
}

// socketByFD returns the open socket numbered fd, or nil.
func (rt *Runtime) socketByFD(fd int32) *Socket {
	rt.fdMu.Lock()
	defer rt.fdMu.Unlock()
	if fd < 0 || int(fd) >= len(rt.fds) {
		return nil
	}
	return rt.fds[fd]
}

// SocketByFD returns the open socket with descriptor number fd.
func (rt *Runtime) SocketByFD(fd int) (*Socket, bool) {
	s := rt.socketByFD(int32(fd))
	return s, s != nil
}

// socketOf returns the Socket wrapping c, making one if needed (a
// connection accepted by the network before the application sees it).
func (rt *Runtime) socketOf(c *netstack.Conn) *Socket {
	if s, ok := c.Raw().Owner().(*Socket); ok && s != nil {
		return s
	}
	return rt.newSocket(c, nil)
}

func (rt *Runtime) onClose(c *netstack.Conn) {
	if s, ok := c.Raw().Owner().(*Socket); ok && s != nil {
		s.removeFromMaps()
		s.rt.closeStateCB(s) // sockops.go: STATE_CB of the close
	}
}

func netipZeroPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr(), 0)
}

// Net is the runtime's socket API over the virtual network.
type Net struct{ rt *Runtime }

// Net returns the socket API: the one way to the runtime's network.
func (rt *Runtime) Net() Net { return Net{rt} }

// Netstack is the user-space network beneath the sockets, for what is
// about the wire rather than a socket: captures (Capture), link faults
// (SetFaults) and waiting for idle (WaitIdle).
func (n Net) Netstack() *netstack.Network { return n.rt.net }

// Pipe makes an established TCP connection from client to server
// ("10.0.0.1", "10.0.0.2:80"; ports optional) and returns both ends.
func (n Net) Pipe(client, server string) (cli, srv *Socket, err error) {
	c, s, err := n.rt.net.Pipe(client, server)
	if err != nil {
		return nil, nil, err
	}
	return n.rt.socketOf(c), n.rt.socketOf(s), nil
}

// Dial connects from local (an address, optionally with a port; "" picks
// one) to remote.
func (n Net) Dial(local, remote string) (*Socket, error) {
	c, err := n.rt.net.Dial(local, remote)
	if err != nil {
		return nil, err
	}
	return n.rt.socketOf(c), nil
}

// Listener is a listening socket.
type Listener struct {
	*Socket
}

// Listen listens on addr ("10.0.0.2:80"; no port picks one).
func (n Net) Listen(addr string) (*Listener, error) {
	l, err := n.rt.net.Listen(addr)
	if err != nil {
		return nil, err
	}
	s := n.rt.listenSocket(l) // sockops.go: the socket TCP_LISTEN_CB saw
	return &Listener{s}, nil
}

// Accept waits for the next established connection.
func (l *Listener) Accept(ctx context.Context) (*Socket, error) {
	c, err := l.ln.AcceptContext(ctx)
	if err != nil {
		return nil, sockErr(err)
	}
	return l.rt.socketOf(c), nil
}

// Addr is the listening address.
func (l *Listener) Addr() netip.AddrPort { return l.ln.AddrPort() }

func (rt *Runtime) String() string { return fmt.Sprintf("runtime(%d sockets)", len(rt.fds)) }
