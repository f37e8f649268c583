package netstack

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/skmsg/skmsg/internal/errno"
)

// Conn is one end of a TCP connection on a netstack Host: a net.Conn with
// sendmsg/recvmsg (SendMsg, RecvMsg), shutdown(2) and integer socket
// options. What the runtime needs beneath the application (raw TCP reads
// and writes, the ingress queue, hooks, its per-socket state) is on the
// connection's RawConn (Raw). All methods are safe for concurrent use.
type Conn struct {
	net  *Network
	host *Host
	ep   tcpip.Endpoint
	wq   *waiter.Queue // TCP's own queue
	tr   *tracked

	local, remote netip.AddrPort
	key           flowKey
	// passive: the connection came out of a listener's accept queue.
	passive bool

	tcpEntry waiter.Entry // permanent: fans TCP events out to appq / wrq / recv hook
	appq     waiter.Queue // what application readers wait on
	wrq      waiter.Queue // what writers (SendTCP) wait on

	sendHook    atomic.Pointer[SendHook]
	recvHook    atomic.Pointer[RecvHook]
	consumeHook atomic.Pointer[func(*Conn)]
	// writeSpaceHook runs when TCP frees send buffer room (hooks.go).
	writeSpaceHook atomic.Pointer[func(*Conn)]

	// Receive hook worker.
	rxMu      sync.Mutex
	rxPending bool
	rxRunning bool          // the hook is running now
	rxGen     atomic.Uint64 // bumped whenever a hook call is scheduled
	rxClosed  bool
	rxStarted bool
	rxSig     chan struct{}
	rxWG      sync.WaitGroup

	// Application reads, serialized; the entry is reused by every read.
	rdMu    sync.Mutex
	rdEntry waiter.Entry
	rdCh    chan struct{}
	rdw     tcpip.SliceWriter

	// Raw TCP reads by the runtime.
	rxwMu sync.Mutex
	rxw   tcpip.SliceWriter

	// Application writes through the send hook, serialized (lock_sock).
	wrMu sync.Mutex
	iov1 [1][]byte

	// Raw TCP sends, serialized so blocking writes are not interleaved.
	sndMu   sync.Mutex
	sndRd   iovReader
	sndIov  [1][]byte
	wrEntry waiter.Entry
	wrCh    chan struct{}

	// Ingress queue (psock ingress_msg).
	ingMu     sync.Mutex
	ing       []ingBuf
	ingOff    int
	ingLen    int
	ingClosed bool
	ingErr    error

	rcvlowat   atomic.Int32 // SO_RCVLOWAT; gVisor stores but ignores it
	rdDeadline atomic.Int64 // unix nanoseconds, 0 = none
	wrDeadline atomic.Int64

	closed  atomic.Bool
	closeCh chan struct{}
	tcpDone atomic.Bool // OnTCPDone fired (or not needed)

	owner atomic.Value

	raw RawConn // Raw returns its address
}

func newConn(h *Host, ep tcpip.Endpoint, wq *waiter.Queue) *Conn {
	c := &Conn{net: h.net, host: h, ep: ep, wq: wq, closeCh: make(chan struct{}), rxSig: make(chan struct{}, 1)}
	c.raw.c = c
	c.rcvlowat.Store(1)
	c.tcpEntry = waiter.NewFunctionEntry(waiter.ReadableEvents|waiter.WritableEvents|waiter.EventHUp|waiter.EventErr, c.onTCPEvent)
	c.rdEntry, c.rdCh = waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	c.wrEntry, c.wrCh = waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&c.tcpEntry)
	return c
}

// setAddrs records the 4-tuple once the endpoint is connected.
func (c *Conn) setAddrs() {
	if la, err := c.ep.GetLocalAddress(); err == nil {
		c.local = addrPortOf(la)
	}
	if ra, err := c.ep.GetRemoteAddress(); err == nil {
		c.remote = addrPortOf(ra)
	}
	c.key = flowKey{
		local: tcpip.AddrFromSlice(c.local.Addr().AsSlice()), remote: tcpip.AddrFromSlice(c.remote.Addr().AsSlice()),
		localPort: c.local.Port(), remotePort: c.remote.Port(),
	}
}

// onTCPEvent runs under the endpoint's lock inside gVisor: it must not call
// back into the endpoint, so the recv hook runs on its own goroutine.
func (c *Conn) onTCPEvent(m waiter.EventMask) {
	if m&(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr) != 0 {
		c.checkTCPDone()
	}
	if m&waiter.ReadableEvents != 0 && c.recvHook.Load() != nil {
		c.scheduleRecv()
		m &^= waiter.ReadableEvents
	}
	if m&(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr) != 0 {
		c.appq.Notify(m & (waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr))
	}
	if m&waiter.WritableEvents != 0 {
		if h := c.writeSpaceHook.Load(); h != nil {
			(*h)(c)
		}
	}
	if m&(waiter.WritableEvents|waiter.EventHUp|waiter.EventErr) != 0 {
		c.wrq.Notify(m & (waiter.WritableEvents | waiter.EventHUp | waiter.EventErr))
	}
}

// LocalAddrPort is the local half of the 4-tuple.
func (c *Conn) LocalAddrPort() netip.AddrPort { return c.local }

// RemoteAddrPort is the remote half of the 4-tuple.
func (c *Conn) RemoteAddrPort() netip.AddrPort { return c.remote }

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.local) }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

func (c *Conn) opErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &OpError{Op: op, Local: c.LocalAddr(), Remote: c.RemoteAddr(), Err: err}
}

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rdDeadline.Store(unixNano(t))
	c.appq.Notify(waiter.ReadableEvents)
	return nil
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wrDeadline.Store(unixNano(t))
	c.wrq.Notify(waiter.WritableEvents)
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// markDirty tells the idle check to look at this connection again.
func (c *Conn) markDirty() {
	if t := c.tr; t != nil {
		t.dirty.Store(true)
	}
}

// Shutdown is shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. SHUT_WR
// sends a FIN after queued data; later sends fail with EPIPE.
func (c *Conn) Shutdown(how int) error {
	defer c.markDirty()
	var f tcpip.ShutdownFlags
	switch how {
	case SHUT_RD:
		f = tcpip.ShutdownRead
	case SHUT_WR:
		f = tcpip.ShutdownWrite
	case SHUT_RDWR:
		f = tcpip.ShutdownRead | tcpip.ShutdownWrite
	default:
		return c.opErr("shutdown", errno.EINVAL)
	}
	if terr := c.ep.Shutdown(f); terr != nil {
		return c.opErr("shutdown", errnoOf(terr))
	}
	if f&tcpip.ShutdownRead != 0 {
		c.raw.CloseIngress(io.EOF)
	}
	return nil
}

// CloseWrite is Shutdown(SHUT_WR), as in *net.TCPConn.
func (c *Conn) CloseWrite() error { return c.Shutdown(SHUT_WR) }

// CloseRead is Shutdown(SHUT_RD), as in *net.TCPConn.
func (c *Conn) CloseRead() error { return c.Shutdown(SHUT_RD) }

// Close implements net.Conn: OnClose runs, the recv hook stops, then TCP
// closes gracefully (FIN after queued data; an RST if unread data is left,
// as Linux does). Blocked reads and writes return net.ErrClosed.
func (c *Conn) Close() error { return c.close(false) }

// Abort closes with an RST (SO_LINGER with a zero timeout).
func (c *Conn) Abort() error { return c.close(true) }

func (c *Conn) close(abort bool) error {
	defer c.markDirty()
	if c.closed.Swap(true) {
		return c.opErr("close", net.ErrClosed)
	}
	if h := c.net.getHooks(); h != nil && h.OnClose != nil {
		h.OnClose(c)
	}
	c.stopRx()
	close(c.closeCh)
	c.dropIngress()
	if abort {
		c.ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true, Timeout: 0})
	}
	c.ep.Close()
	c.tr.appClosed.Store(true)
	c.net.activity.Add(1)
	return nil
}

// shutdownLocal is used by Network.Close: no hooks, just stop.
func (c *Conn) shutdownLocal() {
	if c.closed.Swap(true) {
		return
	}
	c.stopRx()
	close(c.closeCh)
	c.ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true, Timeout: 0})
	c.ep.Close()
	c.tr.appClosed.Store(true)
}
