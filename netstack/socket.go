package netstack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/skmsg/skmsg/internal/errno"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// DefaultBacklog is the listen backlog when none is given (Linux's
// somaxconn default).
const DefaultBacklog = 4096

// Dial connects from local ("10.0.0.1" or "10.0.0.1:40000"; port 0 or
// none picks the host's next ephemeral port) to remote ("10.0.0.2:80").
// The local host is created if needed; the remote address must belong to
// a host (EHOSTUNREACH otherwise). OnEstablished(c, true) has run when
// Dial returns.
func (n *Network) Dial(local, remote string) (*Conn, error) {
	return n.DialContext(context.Background(), local, remote)
}

// DialContext is Dial with a context bounding the handshake.
func (n *Network) DialContext(ctx context.Context, local, remote string) (*Conn, error) {
	la, err := parseEndpoint(local)
	if err != nil {
		return nil, err
	}
	ra, err := parseEndpoint(remote)
	if err != nil {
		return nil, err
	}
	h, err := n.hostFor(la.Addr())
	if err != nil {
		return nil, err
	}
	return h.dial(ctx, la.Port(), ra)
}

// Dial connects from the host's first address of the remote's family.
func (h *Host) Dial(remote string) (*Conn, error) {
	ra, err := parseEndpoint(remote)
	if err != nil {
		return nil, err
	}
	return h.dial(context.Background(), 0, ra)
}

func (h *Host) localAddr(family netip.Addr) (netip.Addr, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.addrs {
		if a.Is4() == family.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (h *Host) dial(ctx context.Context, lport uint16, ra netip.AddrPort) (*Conn, error) {
	n := h.net
	opErr := func(err error) error {
		return &OpError{Op: "dial", Remote: net.TCPAddrFromAddrPort(ra), Err: err}
	}
	if ra.Port() == 0 {
		return nil, opErr(fmt.Errorf("remote %s has no port: %w", ra.Addr(), errno.EINVAL))
	}
	if (*n.byAddr.Load())[tcpip.AddrFromSlice(ra.Addr().AsSlice())] == nil {
		return nil, opErr(fmt.Errorf("no host has address %s: %w", ra.Addr(), errno.EHOSTUNREACH))
	}
	laddr, ok := h.localAddr(ra.Addr())
	if !ok {
		return nil, opErr(fmt.Errorf("host has no address of the family of %s: %w", ra.Addr(), errno.EAFNOSUPPORT))
	}
	wq := new(waiter.Queue)
	ep, terr := h.stack.NewEndpoint(tcp.ProtocolNumber, netProto(laddr), wq)
	if terr != nil {
		return nil, opErr(errnoOf(terr))
	}
	c := newConn(h, ep, wq)
	if err := h.bind(ep, laddr, lport); err != nil {
		ep.Close()
		return nil, opErr(err)
	}
	n.track(&tracked{ep: ep, conn: c})

	entry, ch := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	fail := func(err error) (*Conn, error) {
		// The listener will never accept this handshake: stop waiting for it.
		if la, lerr := ep.GetLocalAddress(); lerr == nil {
			n.link.handshakeDone(flowKey{local: tcpip.AddrFromSlice(ra.Addr().AsSlice()), remote: la.Addr, localPort: ra.Port(), remotePort: la.Port})
		}
		c.shutdownLocal()
		return nil, opErr(err)
	}
	// The kernel's order of the two ends (handshake_order.go): this
	// side's SYN-time hook, the listener's, then the SYN; this side's
	// frames after the SYN wait for its ESTABLISHED hook.
	la, lerr := ep.GetLocalAddress()
	if lerr != nil {
		return fail(errnoOf(lerr))
	}
	c.local, c.remote = addrPortOf(la), ra
	hsKey := flowKey{local: tcpip.AddrFromSlice(ra.Addr().AsSlice()), remote: la.Addr, localPort: ra.Port(), remotePort: la.Port}
	accepted := n.beginHandshake(hsKey)
	defer n.endHandshake(hsKey)
	defer n.releaseHandshake(hsKey)
	if hk := n.getHooks(); hk != nil {
		if hk.OnConnect != nil {
			hk.OnConnect(c)
		}
		if l := n.listenerAt(ra); l != nil && hk.OnSynRecv != nil {
			hk.OnSynRecv(l, c.local)
		}
	}
	terr = ep.Connect(fullAddr(ra))
	if _, started := terr.(*tcpip.ErrConnectStarted); started {
		done := n.waiting()
		select {
		case <-ch:
		case <-ctx.Done():
			done()
			return fail(ctx.Err())
		}
		done()
		terr = ep.LastError()
	}
	if terr != nil {
		return fail(errnoOf(terr))
	}
	if st := c.raw.State(); st != StateEstablished && st != StateCloseWait {
		return fail(fmt.Errorf("connection ended in state %v: %w", st, errno.ECONNREFUSED))
	}
	c.setAddrs()
	c.tr.key = c.key
	n.keyed(c.tr)
	if hk := n.getHooks(); hk != nil && hk.OnEstablished != nil {
		hk.OnEstablished(c, true)
	}
	// The ACK goes out now; connect() returns once the listener's side
	// has become ESTABLISHED too.
	n.releaseHandshake(hsKey)
	waitAccepted(ctx, accepted)
	return c, nil
}

// bind binds ep to addr:port, or to the host's next free ephemeral port
// when port is 0, so port numbers repeat from run to run.
func (h *Host) bind(ep tcpip.Endpoint, addr netip.Addr, port uint16) error {
	fa := tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(addr.AsSlice()), Port: port}
	if port != 0 {
		if terr := ep.Bind(fa); terr != nil {
			return fmt.Errorf("bind %s: %w", netip.AddrPortFrom(addr, port), errnoOf(terr))
		}
		return nil
	}
	first := h.net.opts.EphemeralPortFirst
	h.mu.Lock()
	defer h.mu.Unlock()
	for tries := 0; tries <= 65535-int(first); tries++ {
		p := h.nextPort
		h.nextPort++
		if h.nextPort == 0 || h.nextPort < first {
			h.nextPort = first
		}
		fa.Port = p
		terr := ep.Bind(fa)
		if terr == nil {
			return nil
		}
		if _, inUse := terr.(*tcpip.ErrPortInUse); !inUse {
			return fmt.Errorf("bind %s: %w", netip.AddrPortFrom(addr, p), errnoOf(terr))
		}
	}
	return fmt.Errorf("no free ephemeral port on %s: %w", addr, errno.EADDRNOTAVAIL)
}

// Listener is a listening TCP socket. It implements net.Listener.
// Connections are taken from TCP as soon as their handshake completes
// (OnEstablished runs then) and queued for Accept.
type Listener struct {
	net  *Network
	host *Host
	ep   tcpip.Endpoint
	wq   *waiter.Queue
	addr netip.AddrPort
	tr   *tracked

	mu      sync.Mutex
	queue   []*Conn
	closed  bool
	ready   chan struct{}
	closeCh chan struct{}
	wg      sync.WaitGroup
}

// Listen listens on addr ("10.0.0.2:80"; port 0 picks an ephemeral port)
// with DefaultBacklog.
func (n *Network) Listen(addr string) (*Listener, error) {
	return n.ListenBacklog(addr, DefaultBacklog)
}

// ListenBacklog is Listen with an explicit backlog.
func (n *Network) ListenBacklog(addr string, backlog int) (*Listener, error) {
	ap, err := parseEndpoint(addr)
	if err != nil {
		return nil, err
	}
	h, err := n.hostFor(ap.Addr())
	if err != nil {
		return nil, err
	}
	opErr := func(err error) error {
		return &OpError{Op: "listen", Local: net.TCPAddrFromAddrPort(ap), Err: err}
	}
	wq := new(waiter.Queue)
	ep, terr := h.stack.NewEndpoint(tcp.ProtocolNumber, netProto(ap.Addr()), wq)
	if terr != nil {
		return nil, opErr(errnoOf(terr))
	}
	ep.SocketOptions().SetReuseAddress(true)
	if err := h.bind(ep, ap.Addr(), ap.Port()); err != nil {
		ep.Close()
		return nil, opErr(err)
	}
	if terr := ep.Listen(backlog); terr != nil {
		ep.Close()
		return nil, opErr(errnoOf(terr))
	}
	la, _ := ep.GetLocalAddress()
	l := &Listener{net: n, host: h, ep: ep, wq: wq, addr: addrPortOf(la), ready: make(chan struct{}, 1), closeCh: make(chan struct{})}
	l.tr = &tracked{ep: ep, ln: l}
	n.track(l.tr)
	n.link.addListening(listenKey{la.Addr, la.Port}, true)
	n.addListener(listenKey{la.Addr, la.Port}, l, true)
	entry, ch := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&entry)
	l.wg.Add(1)
	go l.acceptLoop(&entry, ch)
	if hk := n.getHooks(); hk != nil && hk.OnListen != nil {
		hk.OnListen(l)
	}
	return l, nil
}

// Listen listens on port of the host's first address of the given family
// (ipv6 false: IPv4); port 0 picks an ephemeral port.
func (h *Host) Listen(ipv6 bool, port uint16) (*Listener, error) {
	family := netip.IPv4Unspecified()
	if ipv6 {
		family = netip.IPv6Unspecified()
	}
	a, ok := h.localAddr(family)
	if !ok {
		return nil, &OpError{Op: "listen", Err: fmt.Errorf("host has no address of that family: %w", errno.EAFNOSUPPORT)}
	}
	return h.net.Listen(netip.AddrPortFrom(a, port).String())
}

func (l *Listener) acceptLoop(entry *waiter.Entry, ch chan struct{}) {
	defer l.wg.Done()
	defer l.wq.EventUnregister(entry)
	n := l.net
	for {
		for {
			var peer tcpip.FullAddress
			nep, nwq, terr := l.ep.Accept(&peer)
			if terr != nil {
				break
			}
			c := newConn(l.host, nep, nwq)
			c.passive = true
			c.setAddrs()
			c.tr = &tracked{ep: nep, conn: c, key: c.key}
			n.track(c.tr)
			n.busy.Add(1)
			n.link.handshakeDone(c.key)
			if hk := n.getHooks(); hk != nil && hk.OnEstablished != nil {
				hk.OnEstablished(c, false)
			}
			n.acceptedHandshake(c.key)
			if !l.push(c) {
				c.shutdownLocal()
			}
			n.done()
		}
		select {
		case <-ch:
		case <-l.closeCh:
			return
		}
	}
}

func (l *Listener) push(c *Conn) bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.queue = append(l.queue, c)
	l.mu.Unlock()
	select {
	case l.ready <- struct{}{}:
	default:
	}
	return true
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) { return l.AcceptConn() }

// AcceptConn waits for the next established connection.
func (l *Listener) AcceptConn() (*Conn, error) { return l.AcceptContext(context.Background()) }

// AcceptContext is AcceptConn bounded by ctx.
func (l *Listener) AcceptContext(ctx context.Context) (*Conn, error) {
	for {
		l.mu.Lock()
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			more := len(l.queue) > 0
			l.mu.Unlock()
			if more {
				select {
				case l.ready <- struct{}{}:
				default:
				}
			}
			return c, nil
		}
		closed := l.closed
		l.mu.Unlock()
		if closed {
			return nil, &OpError{Op: "accept", Local: l.Addr(), Err: net.ErrClosed}
		}
		done := l.net.waiting()
		select {
		case <-l.ready:
		case <-l.closeCh:
		case <-ctx.Done():
			done()
			return nil, &OpError{Op: "accept", Local: l.Addr(), Err: ctx.Err()}
		}
		done()
	}
}

// Pending is the number of established connections waiting for Accept.
func (l *Listener) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// AddrPort is the bound address.
func (l *Listener) AddrPort() netip.AddrPort { return l.addr }

// Host is the listener's host.
func (l *Listener) Host() *Host { return l.host }

// Endpoint exposes the gVisor endpoint.
func (l *Listener) Endpoint() tcpip.Endpoint { return l.ep }

// Close implements net.Listener. Connections not yet accepted are reset.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return &OpError{Op: "close", Local: l.Addr(), Err: net.ErrClosed}
	}
	l.closed = true
	q := l.queue
	l.queue = nil
	l.mu.Unlock()
	close(l.closeCh)
	l.net.link.addListening(listenKey{tcpip.AddrFromSlice(l.addr.Addr().AsSlice()), l.addr.Port()}, false)
	l.net.addListener(listenKey{tcpip.AddrFromSlice(l.addr.Addr().AsSlice()), l.addr.Port()}, l, false)
	l.ep.Close()
	for _, c := range q {
		c.shutdownLocal()
	}
	l.tr.appClosed.Store(true)
	return nil
}

// Pipe makes an established connection from clientAddr to serverAddr
// (ports optional: 0 or none picks the next ephemeral port) through a
// temporary listener, and returns both ends after both OnEstablished hooks
// ran.
func (n *Network) Pipe(clientAddr, serverAddr string) (cli, srv *Conn, err error) {
	l, err := n.Listen(serverAddr)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	cli, err = n.Dial(clientAddr, l.addr.String())
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err = l.AcceptContext(ctx)
	if err != nil {
		cli.Close()
		return nil, nil, err
	}
	return cli, srv, nil
}
