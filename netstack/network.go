package netstack

import (
	"context"
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skmsg/skmsg/internal/errno"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// Options configure a Network. The zero value is usable.
type Options struct {
	// Seed seeds every host stack's random sources and every fault
	// decision, so the same scenario makes the same choices.
	Seed int64

	// MTU of the link; 0 means 65535, close to the kernel loopback's
	// 65536, so segments are as large as on lo. 1500 gives Ethernet-sized
	// segments (many more frames, and gVisor's per-segment cost makes bulk
	// transfers an order of magnitude slower). Values below 1280 (the
	// IPv6 minimum) are raised to 1280, above 65535 lowered to 65535.
	MTU uint32

	// EphemeralPortFirst is the first port handed out to Dial without an
	// explicit local port; ports then go up in order per host. 0 means
	// 32768 (the start of Linux's ip_local_port_range).
	EphemeralPortFirst uint16

	// MinRTO lowers TCP's minimum retransmission timeout (gVisor's
	// default, like Linux's, is 200ms); tests on lossy links use a few
	// milliseconds to recover quickly. 0 keeps the default.
	MinRTO time.Duration

	// Checksums: by default the link cannot corrupt a frame, so received
	// checksums are not verified, and IP/TCP checksums are computed only
	// while a Capture runs (captured frames are correct). ChecksumOffload
	// never computes them (captured frames then carry zero checksums);
	// VerifyChecksums always computes and verifies them, exercising
	// gVisor's checksum code at some cost in speed.
	ChecksumOffload bool
	VerifyChecksums bool

	// Clock is the time every host stack reads and arms its timers on
	// (TCP's initial sequence numbers and timestamps come from it), and
	// the time of capture timestamps. nil means a new VirtualClock, whose
	// time moves with the frames on the link and the timers that fire, so
	// that the same traffic gives the same segments in every run;
	// tcpip.NewStdClock() gives the wall clock instead.
	Clock tcpip.Clock
}

// Hooks are the runtime's connection lifecycle callbacks; see the package
// documentation. Any field may be nil. They are called synchronously: a
// hook that blocks holds up Dial (active side) or the delivery of that
// connection to Accept (passive side).
type Hooks struct {
	// OnConnect runs on the dialing side before its SYN is sent (the
	// kernel's tcp_connect), with the Conn's addresses known.
	OnConnect func(c *Conn)
	// OnSynRecv runs for a connection request that reaches listener l
	// from remote (the kernel's tcp_conn_request), after OnConnect and
	// before the listener answers. Both run on the dialing goroutine.
	OnSynRecv func(l *Listener, remote netip.AddrPort)
	// OnEstablished runs once per connection when it becomes
	// ESTABLISHED: active=true on the dialing side before Dial returns,
	// active=false on the accepting side when the handshake completes,
	// before Accept can return it.
	OnEstablished func(c *Conn, active bool)
	// OnListen runs when a Listener starts listening, before Listen
	// returns.
	OnListen func(l *Listener)
	// OnClose runs when the application closes a Conn (Close or Abort),
	// before TCP sends its FIN or RST.
	OnClose func(c *Conn)
	// OnTCPDone runs once when a Conn the application has not closed
	// reaches CLOSE or TIME_WAIT on its own: reset by the peer, or both
	// FINs exchanged after a shutdown. The kernel unhashes the socket at
	// that point (tcp_done), which removes it from sockmaps. It runs on a
	// goroutine of its own, soon after the transition (at the latest when
	// WaitIdle next looks), and WaitIdle waits for it.
	OnTCPDone func(c *Conn)
}

// Network is a set of hosts on one link. It is safe for concurrent use.
type Network struct {
	opts Options

	mu     sync.Mutex
	hosts  []*Host
	byAddr atomic.Pointer[map[tcpip.Address]*Host] // copy-on-write, read per frame
	closed bool

	hooks atomic.Pointer[Hooks]
	link  link

	// tracked holds every TCP endpoint whose activity WaitIdle must see:
	// open Conns and Listeners, and closed Conns until TCP finishes with
	// them.
	trackMu   sync.Mutex
	tracked   map[*tracked]struct{}
	byKey     map[flowKey]*tracked // connections by their own 4-tuple view
	byKeyFast sync.Map             // the same, read per frame without trackMu
	// idleChecksRun counts IdleNow's scans (under trackMu).
	idleChecksRun uint64
	lastBusy      *tracked
	idleChecks    []func() string

	hookWG   sync.WaitGroup // OnTCPDone calls in progress
	busy     atomic.Int64   // pending hook calls and runtime work (Busy/Done)
	activity atomic.Uint64  // bumped by every frame and hook call, for settle checks
	idleMu   sync.Mutex
	idleCh   chan struct{} // closed and replaced when activity might have ended

	hs handshakeOrder // handshake_order.go

	sendsBlocked atomic.Int64  // blocking sends waiting for space
	sendTimeouts atomic.Uint64 // TimeOutBlockedSends calls
}

// New makes an empty network.
func New(opts Options) *Network {
	if opts.MTU == 0 {
		opts.MTU = 65535
	}
	if opts.MTU < 1280 {
		opts.MTU = 1280 // IPv6 minimum
	}
	if opts.MTU > 65535 {
		opts.MTU = 65535
	}
	if opts.EphemeralPortFirst == 0 {
		opts.EphemeralPortFirst = 32768
	}
	if opts.Clock == nil {
		opts.Clock = NewVirtualClock()
	}
	n := &Network{opts: opts, tracked: make(map[*tracked]struct{}), byKey: make(map[flowKey]*tracked), idleCh: make(chan struct{})}
	m := make(map[tcpip.Address]*Host)
	n.byAddr.Store(&m)
	n.link.init(n)
	n.link.vclock, _ = opts.Clock.(*VirtualClock)
	n.hs.init()
	return n
}

// waiting marks a wait for the network (a blocking call, WaitIdle), the
// time in which the VirtualClock's timers may fire; the function it
// returns ends it.
func (n *Network) waiting() func() {
	if vc := n.link.vclock; vc != nil {
		return vc.wait()
	}
	return func() {}
}

// Clock returns the clock of every host stack (Options.Clock, or the
// network's own VirtualClock).
func (n *Network) Clock() tcpip.Clock { return n.opts.Clock }

// SetHooks installs the lifecycle hooks. Connections already established
// do not get OnEstablished retroactively.
func (n *Network) SetHooks(h Hooks) { n.hooks.Store(&h) }

func (n *Network) getHooks() *Hooks { return n.hooks.Load() }

// Close tears every host down: all connections are reset, listeners
// closed, pending fault frames dropped and every goroutine the network
// started ends before Close returns.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	hosts := n.hosts
	n.mu.Unlock()

	n.trackMu.Lock()
	var conns []*Conn
	var lns []*Listener
	for t := range n.tracked {
		if t.conn != nil {
			conns = append(conns, t.conn)
		}
		if t.ln != nil {
			lns = append(lns, t.ln)
		}
	}
	n.trackMu.Unlock()
	for _, l := range lns {
		l.Close()
	}
	n.link.shutdown()
	for _, c := range conns {
		c.shutdownLocal()
	}
	for _, h := range hosts {
		h.stack.Close()
	}
	for _, h := range hosts {
		h.stack.Wait()
	}
	for _, c := range conns {
		c.waitWorkers()
	}
	n.hookWG.Wait()
	for _, l := range lns {
		l.wg.Wait()
	}
	return nil
}

// Host is one machine on the network: a gVisor stack with one NIC on the
// link and one or more addresses.
type Host struct {
	net   *Network
	index int
	stack *stack.Stack
	nic   *nicEndpoint
	mac   [6]byte

	mu       sync.Mutex
	addrs    []netip.Addr
	nextPort uint16
}

// Addrs returns the host's addresses in the order they were added.
func (h *Host) Addrs() []netip.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]netip.Addr(nil), h.addrs...)
}

// Stack exposes the host's gVisor stack, for statistics and experiments.
func (h *Host) Stack() *stack.Stack { return h.stack }

// Hosts returns the hosts in creation order.
func (n *Network) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// AddHost creates a host owning all the given addresses (IPv4 and/or
// IPv6). It fails if an address already belongs to a host.
func (n *Network) AddHost(addrs ...string) (*Host, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("netstack: AddHost needs at least one address")
	}
	parsed := make([]netip.Addr, len(addrs))
	for i, s := range addrs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("netstack: host address %q: %w", s, err)
		}
		parsed[i] = a.Unmap()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addHostLocked(parsed)
}

// Host returns the host owning addr, creating a host with that single
// address when none does.
func (n *Network) Host(addr string) (*Host, error) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("netstack: host address %q: %w", addr, err)
	}
	return n.hostFor(a.Unmap())
}

func (n *Network) hostFor(a netip.Addr) (*Host, error) {
	if h := (*n.byAddr.Load())[tcpip.AddrFromSlice(a.AsSlice())]; h != nil {
		return h, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if h := (*n.byAddr.Load())[tcpip.AddrFromSlice(a.AsSlice())]; h != nil {
		return h, nil
	}
	return n.addHostLocked([]netip.Addr{a})
}

// AddAddress gives the host another address.
func (h *Host) AddAddress(addr string) error {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return fmt.Errorf("netstack: host address %q: %w", addr, err)
	}
	a = a.Unmap()
	n := h.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if other := (*n.byAddr.Load())[tcpip.AddrFromSlice(a.AsSlice())]; other != nil {
		if other == h {
			return nil
		}
		return fmt.Errorf("netstack: address %s already belongs to another host: %w", a, errno.EADDRINUSE)
	}
	if err := h.addAddr(a); err != nil {
		return err
	}
	n.publishAddr(a, h)
	return nil
}

func (n *Network) publishAddr(a netip.Addr, h *Host) {
	old := *n.byAddr.Load()
	m := make(map[tcpip.Address]*Host, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[tcpip.AddrFromSlice(a.AsSlice())] = h
	n.byAddr.Store(&m)
}

func (n *Network) addHostLocked(addrs []netip.Addr) (*Host, error) {
	if n.closed {
		return nil, fmt.Errorf("netstack: network closed: %w", errno.ENETDOWN)
	}
	for _, a := range addrs {
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
			return nil, fmt.Errorf("netstack: %s cannot be a host address: %w", a, errno.EADDRNOTAVAIL)
		}
		if (*n.byAddr.Load())[tcpip.AddrFromSlice(a.AsSlice())] != nil {
			return nil, fmt.Errorf("netstack: address %s already belongs to a host: %w", a, errno.EADDRINUSE)
		}
	}
	idx := len(n.hosts)
	seed := n.opts.Seed*1000003 + int64(idx)
	s := stack.New(stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{
			ipv4.NewProtocolWithOptions(ipv4.Options{AllowExternalLoopbackTraffic: true}),
			ipv6.NewProtocolWithOptions(ipv6.Options{AllowExternalLoopbackTraffic: true}),
		},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
		RandSource:         &lockedSource{src: rand.NewSource(seed)},
		SecureRNG:          newSeededReader(uint64(seed)),
		Clock:              n.opts.Clock,
	})
	// Linux defaults: SACK on, receive buffer auto-tuning on, Nagle on.
	// Nagle also keeps a stream of tiny writes from becoming a stream of
	// tiny segments: gVisor charges each held segment's metadata to the
	// receive buffer but advertises a window in payload bytes, so a few
	// thousand unread 1-byte segments fill the buffer while the window
	// stays open, and everything past that is dropped and crawls back by
	// retransmission.
	delay := tcpip.TCPDelayEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &delay)
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	mod := tcpip.TCPModerateReceiveBufferOption(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &mod)
	if n.opts.MinRTO > 0 {
		rto := tcpip.TCPMinRTOOption(n.opts.MinRTO)
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rto); err != nil {
			s.Close()
			return nil, fmt.Errorf("netstack: MinRTO %v: %s", n.opts.MinRTO, err)
		}
	}

	h := &Host{net: n, index: idx, stack: s, nextPort: n.opts.EphemeralPortFirst}
	// Locally administered unicast MACs, one per host, for captures.
	h.mac = [6]byte{0x02, 0x00, 0x00, byte(idx >> 16), byte(idx >> 8), byte(idx)}
	h.nic = &nicEndpoint{host: h, link: &n.link, mtu: n.opts.MTU}
	if err := s.CreateNIC(1, h.nic); err != nil {
		s.Close()
		return nil, fmt.Errorf("netstack: create NIC: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: 1},
		{Destination: header.IPv6EmptySubnet, NIC: 1},
	})
	for _, a := range addrs {
		if err := h.addAddr(a); err != nil {
			s.Close()
			return nil, err
		}
	}
	n.hosts = append(n.hosts, h)
	for _, a := range addrs {
		n.publishAddr(a, h)
	}
	return h, nil
}

func (h *Host) addAddr(a netip.Addr) error {
	proto := ipv4.ProtocolNumber
	if a.Is6() {
		proto = ipv6.ProtocolNumber
	}
	pa := tcpip.ProtocolAddress{
		Protocol:          proto,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice(a.AsSlice()), PrefixLen: a.BitLen()},
	}
	if err := h.stack.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("netstack: add address %s: %s", a, err)
	}
	h.mu.Lock()
	h.addrs = append(h.addrs, a)
	h.mu.Unlock()
	return nil
}

// parseEndpoint accepts "10.0.0.1", "10.0.0.1:80", "fd00::1",
// "[fd00::1]:80"; a missing port is 0.
func parseEndpoint(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 0), nil
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return netip.AddrPortFrom(a.Unmap(), 0), nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("netstack: bad address %q (want IP or IP:port): %w", s, errno.EINVAL)
}

func fullAddr(ap netip.AddrPort) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(ap.Addr().AsSlice()), Port: ap.Port()}
}

func netProto(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

func addrPortOf(fa tcpip.FullAddress) netip.AddrPort {
	a, _ := netip.AddrFromSlice(fa.Addr.AsSlice())
	return netip.AddrPortFrom(a.Unmap(), fa.Port)
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

// lockedSource makes a math/rand Source safe for the stack's concurrent use.
type lockedSource struct {
	mu  sync.Mutex
	src rand.Source
}

func (s *lockedSource) Int63() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src.Int63()
}

func (s *lockedSource) Seed(seed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.src.Seed(seed)
}

// seededReader stands in for crypto/rand so that the stack's secrets (ISN
// hash key, timestamp offsets) are the same in every run of a scenario.
type seededReader struct {
	mu sync.Mutex
	c  *randv2.ChaCha8
}

func newSeededReader(seed uint64) *seededReader {
	var key [32]byte
	for i := 0; i < 8; i++ {
		key[i] = byte(seed >> (8 * i))
	}
	copy(key[8:], "netstack deterministic seed key")
	return &seededReader{c: randv2.NewChaCha8(key)}
}

func (r *seededReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c.Read(p)
}

var _ = context.Background
