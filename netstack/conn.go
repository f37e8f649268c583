package netstack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skmsg/skmsg/internal/errno"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"
)

// SendHook replaces TCP on a Conn's application send path (see
// Conn.SetSendHook). It returns the number of bytes consumed from iov and
// an error, with write(2) semantics: a partial count with a nil error is a
// short write. The hook must not keep iov or its slices after returning.
type SendHook func(c *Conn, iov [][]byte, flags int) (int, error)

// RecvHook is called after bytes, a FIN or an RST arrive on a Conn whose
// receive side the runtime owns (see Conn.SetRecvHook).
type RecvHook func(c *Conn)

// Conn is one end of a TCP connection on a netstack Host. It implements
// net.Conn. All methods are safe for concurrent use.
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
}

func newConn(h *Host, ep tcpip.Endpoint, wq *waiter.Queue) *Conn {
	c := &Conn{net: h.net, host: h, ep: ep, wq: wq, closeCh: make(chan struct{}), rxSig: make(chan struct{}, 1)}
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
	if m&(waiter.WritableEvents|waiter.EventHUp|waiter.EventErr) != 0 {
		c.wrq.Notify(m & (waiter.WritableEvents | waiter.EventHUp | waiter.EventErr))
	}
}

// ---- addresses, state ----

// LocalAddrPort is the local half of the 4-tuple.
func (c *Conn) LocalAddrPort() netip.AddrPort { return c.local }

// RemoteAddrPort is the remote half of the 4-tuple.
func (c *Conn) RemoteAddrPort() netip.AddrPort { return c.remote }

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.local) }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

// Host is the host the Conn lives on.
func (c *Conn) Host() *Host { return c.host }

// Network is the network the Conn lives on.
func (c *Conn) Network() *Network { return c.net }

// Passive reports whether the connection was accepted by a listener (the
// passive end), rather than dialed.
func (c *Conn) Passive() bool { return c.passive }

// State is the TCP state, numbered as Linux numbers them.
func (c *Conn) State() TCPState {
	st := stateOf(c.ep.State())
	if st == StateClose || st == StateTimeWait {
		c.checkTCPDone()
	}
	return st
}

// checkTCPDone fires OnTCPDone once when TCP finished without the
// application closing the Conn.
func (c *Conn) checkTCPDone() {
	if c.tcpDone.Load() || c.closed.Load() {
		return
	}
	switch stateOf(c.ep.State()) {
	case StateClose, StateTimeWait:
	default:
		return
	}
	if c.tcpDone.Swap(true) {
		return
	}
	hk := c.net.getHooks()
	if hk == nil || hk.OnTCPDone == nil {
		return
	}
	n := c.net
	n.busy.Add(1)
	n.hookWG.Add(1)
	go func() {
		defer n.hookWG.Done()
		defer n.done()
		hk.OnTCPDone(c)
	}()
}

// Endpoint exposes the gVisor endpoint, for statistics and experiments.
func (c *Conn) Endpoint() tcpip.Endpoint { return c.ep }

// SetOwner stores a value for the runtime (its per-socket state), so it
// needs no map from Conn to psock.
func (c *Conn) SetOwner(v any) { c.owner.Store(ownerBox{v}) }

// Owner returns what SetOwner stored, or nil.
func (c *Conn) Owner() any {
	if b, ok := c.owner.Load().(ownerBox); ok {
		return b.v
	}
	return nil
}

type ownerBox struct{ v any }

func (c *Conn) opErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &OpError{Op: op, Local: c.LocalAddr(), Remote: c.RemoteAddr(), Err: err}
}

// ---- hooks ----

// SetSendHook makes every application write (Write, Sendmsg) call fn
// instead of TCP; nil restores plain TCP. fn runs on the writer's
// goroutine; application writes on one Conn are serialized, so fn never
// runs concurrently with itself for the same Conn. fn typically calls
// c.SendTCP (PASS), other.SendTCP (egress redirect), other.Inject (ingress
// redirect), or returns an error (DROP: EACCES).
func (c *Conn) SetSendHook(fn SendHook) {
	if fn == nil {
		c.sendHook.Store(nil)
		return
	}
	c.sendHook.Store(&fn)
}

// SetRecvHook hands the receive side to the runtime: from now on TCP data
// is no longer read by the application. fn is called on a goroutine owned
// by the Conn (calls serialized, never concurrent) after data, a FIN or an
// RST arrive, and once right away so data that arrived earlier is seen. fn
// pulls bytes with RecvTCP/PeekTCP; Inject delivers to the application.
// fn may block; that only delays this Conn's next call. nil gives TCP data
// back to the application.
func (c *Conn) SetRecvHook(fn RecvHook) {
	if fn == nil {
		c.recvHook.Store(nil)
		c.appq.Notify(waiter.ReadableEvents)
		return
	}
	c.recvHook.Store(&fn)
	c.rxMu.Lock()
	if !c.rxStarted && !c.rxClosed {
		c.rxStarted = true
		c.rxWG.Add(1)
		go c.rxWorker()
	}
	c.rxMu.Unlock()
	c.scheduleRecv()
}

// KickRecv asks for one more call of the recv hook even if nothing new
// arrived (for example after the hook stopped early, or when the runtime's
// own state changed).
func (c *Conn) KickRecv() { c.scheduleRecv() }

func (c *Conn) scheduleRecv() {
	c.rxMu.Lock()
	if c.rxPending || c.rxClosed || !c.rxStarted {
		c.rxMu.Unlock()
		return
	}
	c.rxPending = true
	c.rxGen.Add(1)
	c.net.busy.Add(1)
	c.rxMu.Unlock()
	select {
	case c.rxSig <- struct{}{}:
	default:
	}
}

func (c *Conn) rxWorker() {
	defer c.rxWG.Done()
	for {
		select {
		case <-c.rxSig:
		case <-c.closeCh:
			return
		}
		c.rxMu.Lock()
		if !c.rxPending {
			c.rxMu.Unlock()
			continue
		}
		c.rxPending = false
		c.rxRunning = true
		c.rxMu.Unlock()
		if h := c.recvHook.Load(); h != nil {
			(*h)(c)
		}
		c.rxMu.Lock()
		c.rxRunning = false
		c.rxMu.Unlock()
		// The hook may have consumed a FIN or the last bytes: readers of
		// the ingress queue re-check for EOF.
		c.appq.Notify(waiter.ReadableEvents)
		c.net.activity.Add(1)
		c.net.done()
	}
}

// recvHookBusy reports whether a recv hook call is pending or running, and
// how many calls have been scheduled so far.
func (c *Conn) recvHookBusy() (gen uint64, busy bool) {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	return c.rxGen.Load(), c.rxPending || c.rxRunning
}

func (c *Conn) stopRx() {
	c.rxMu.Lock()
	c.rxClosed = true
	if c.rxPending {
		c.rxPending = false
		c.net.done()
	}
	c.rxMu.Unlock()
}

func (c *Conn) waitWorkers() { c.rxWG.Wait() }

// ---- ingress queue ----

// Inject appends b (copied) to the Conn's ingress queue, which application
// reads consume before any TCP data, and wakes blocked readers. It never
// blocks and never fails on an open Conn; after Close it returns EPIPE.
// After CloseIngress (shutdown(SHUT_RD)) it still queues: the kernel's
// psock keeps taking ingress messages, and reads return them before EOF.
func (c *Conn) Inject(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	buf := make([]byte, len(b))
	copy(buf, b)
	return c.InjectOwned(buf)
}

// InjectOwned is Inject without the copy: the Conn takes b over.
func (c *Conn) InjectOwned(b []byte) error { return c.InjectRelease(b, nil) }

// Releaser is told when the ingress queue no longer needs a buffer handed
// over with InjectRelease.
type Releaser interface {
	// Release runs exactly once per InjectRelease call, with the Conn's
	// ingress lock held: it must not call back into the Conn.
	Release()
}

// ingBuf is one ingress queue entry and whom to tell when it is done.
type ingBuf struct {
	b []byte
	r Releaser
}

// InjectRelease is InjectOwned for a buffer the caller wants back (a
// pooled page, as the kernel's ingress queue holds page references): r,
// if not nil, is released once reads have consumed all of b, or when
// the Conn closes with b unread, or at once when b is empty or the Conn
// is closed (EPIPE). Peeking does not release. Until then b must not be
// reused.
func (c *Conn) InjectRelease(b []byte, r Releaser) error {
	c.ingMu.Lock()
	if len(b) == 0 || c.closed.Load() {
		if r != nil {
			r.Release()
		}
		c.ingMu.Unlock()
		if len(b) == 0 {
			return nil
		}
		return c.opErr("inject", errno.EPIPE)
	}
	c.ing = append(c.ing, ingBuf{b, r})
	c.ingLen += len(b)
	c.ingMu.Unlock()
	c.appq.Notify(waiter.ReadableEvents)
	return nil
}

// dropIngress releases what the ingress queue holds; the Conn is closed.
func (c *Conn) dropIngress() {
	c.ingMu.Lock()
	for i := range c.ing {
		if r := c.ing[i].r; r != nil {
			r.Release()
		}
		c.ing[i] = ingBuf{}
	}
	c.ing, c.ingOff, c.ingLen = nil, 0, 0
	c.ingMu.Unlock()
}

// CloseIngress makes application reads return err (io.EOF when err is nil)
// once the ingress queue is drained, and wakes blocked readers.
func (c *Conn) CloseIngress(err error) {
	if err == nil {
		err = io.EOF
	}
	c.ingMu.Lock()
	if !c.ingClosed {
		c.ingClosed, c.ingErr = true, err
	}
	c.ingMu.Unlock()
	c.appq.Notify(waiter.ReadableEvents)
}

// IngressLen is the number of bytes waiting in the ingress queue.
func (c *Conn) IngressLen() int {
	c.ingMu.Lock()
	defer c.ingMu.Unlock()
	return c.ingLen
}

// WakeReaders wakes application readers blocked on the Conn so they
// re-check their condition.
func (c *Conn) WakeReaders() { c.appq.Notify(waiter.ReadableEvents) }

func (c *Conn) ingressRead(b []byte, peek bool) (int, bool, error) {
	c.ingMu.Lock()
	defer c.ingMu.Unlock()
	if c.ingLen == 0 {
		if c.ingClosed {
			return 0, true, c.ingErr
		}
		return 0, false, nil
	}
	n := 0
	i, off := 0, c.ingOff
	for n < len(b) && i < len(c.ing) {
		m := copy(b[n:], c.ing[i].b[off:])
		n += m
		off += m
		if off == len(c.ing[i].b) {
			i++
			off = 0
		}
	}
	if !peek {
		for j := 0; j < i; j++ {
			if r := c.ing[j].r; r != nil {
				r.Release()
			}
			c.ing[j] = ingBuf{}
		}
		c.ing = c.ing[i:]
		c.ingOff = off
		c.ingLen -= n
		if len(c.ing) == 0 {
			c.ing = c.ing[:0:0]
		}
	}
	return n, true, nil
}

// ---- receive ----

// Read implements net.Conn: the ingress queue first, then TCP data (unless
// a recv hook owns TCP data). io.EOF at end of stream.
func (c *Conn) Read(b []byte) (int, error) { return c.Recvmsg(b, 0) }

// Recvmsg is recv(2): flags may hold MSG_DONTWAIT (EAGAIN instead of
// blocking), MSG_PEEK and MSG_WAITALL. A zero-length b returns 0 at once.
func (c *Conn) Recvmsg(b []byte, flags int) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := c.recvmsg(b, flags)
	if n > 0 && flags&MSG_PEEK == 0 {
		if h := c.consumeHook.Load(); h != nil {
			(*h)(c)
		}
	}
	return n, err
}

// SetConsumeHook registers fn to run on the reader's goroutine after each
// application read that consumed bytes (from the ingress queue or TCP), so
// the runtime can resume deliveries that waited for room. nil removes it.
func (c *Conn) SetConsumeHook(fn func(c *Conn)) {
	if fn == nil {
		c.consumeHook.Store(nil)
		return
	}
	c.consumeHook.Store(&fn)
}

func (c *Conn) recvmsg(b []byte, flags int) (int, error) {
	c.rdMu.Lock()
	defer c.rdMu.Unlock()
	peek := flags&MSG_PEEK != 0
	// Like tcp_recvmsg, a blocking read returns once it has
	// min(SO_RCVLOWAT, len(b)) bytes, or all of b with MSG_WAITALL.
	target := int(c.rcvlowat.Load())
	if flags&MSG_WAITALL != 0 || target > len(b) {
		target = len(b)
	}
	total := 0
	registered := false
	defer func() {
		if registered {
			c.appq.EventUnregister(&c.rdEntry)
		}
	}()
	for {
		n, err := c.readOnce(b[total:], peek)
		total += n
		if err == nil && n > 0 {
			if peek || total >= target || flags&MSG_DONTWAIT != 0 {
				return total, nil
			}
			continue
		}
		if err != errno.EAGAIN {
			if total > 0 {
				return total, nil
			}
			return 0, c.opErr("read", err)
		}
		if flags&MSG_DONTWAIT != 0 {
			if total > 0 {
				return total, nil
			}
			return 0, c.opErr("read", errno.EAGAIN)
		}
		if !registered {
			c.appq.EventRegister(&c.rdEntry)
			registered = true
			continue // re-check after registering so no wakeup is lost
		}
		if err := c.block(c.rdCh, &c.rdDeadline); err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, c.opErr("read", err)
		}
	}
}

// readOnce returns (n>0, nil), (0, EAGAIN), (0, io.EOF) or (0, errno).
func (c *Conn) readOnce(b []byte, peek bool) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	n, closed, err := c.ingressRead(b, peek)
	if n > 0 {
		return n, nil
	}
	if closed {
		return 0, err
	}
	if c.recvHook.Load() != nil {
		// TCP data belongs to the runtime; the application sees EOF (or
		// the reset) once TCP's receive side is done and drained and the
		// hook has handled everything that arrived before: a hook that
		// took the last bytes and has not injected them yet would
		// otherwise let EOF overtake them. In the kernel the verdict runs
		// in the data's own softirq, before the FIN behind it is seen.
		gen, busy := c.recvHookBusy()
		if busy || c.TCPQueued() > 0 {
			return 0, errno.EAGAIN
		}
		var w tcpip.SliceWriter
		_, terr := c.ep.Read(&w, tcpip.ReadOptions{Peek: true})
		if terr == nil {
			return 0, errno.EAGAIN
		}
		if gen2, busy := c.recvHookBusy(); busy || gen2 != gen {
			return 0, errno.EAGAIN // data came with the end: the hook's turn first
		}
		return 0, errnoOf(terr)
	}
	// A writer kept in the Conn (reads hold rdMu) so a read allocates
	// nothing: a local would escape through the io.Writer interface.
	c.rdw = tcpip.SliceWriter(b)
	res, terr := c.ep.Read(&c.rdw, tcpip.ReadOptions{Peek: peek})
	c.rdw = nil
	if terr != nil {
		return 0, errnoOf(terr)
	}
	if res.Count == 0 {
		return 0, errno.EAGAIN
	}
	return res.Count, nil
}

// RecvTCP is the raw tcp_recvmsg for the runtime: it takes up to len(b)
// bytes from TCP's receive queue without blocking. It returns (n, nil),
// (0, EAGAIN) when nothing is queued, (0, io.EOF) after the peer's FIN, or
// an errno such as ECONNRESET. It ignores the ingress queue and the recv
// hook.
func (c *Conn) RecvTCP(b []byte) (int, error) { return c.recvTCP(b, false) }

// PeekTCP is RecvTCP without consuming.
func (c *Conn) PeekTCP(b []byte) (int, error) { return c.recvTCP(b, true) }

func (c *Conn) recvTCP(b []byte, peek bool) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rxwMu.Lock()
	c.rxw = tcpip.SliceWriter(b)
	res, terr := c.ep.Read(&c.rxw, tcpip.ReadOptions{Peek: peek})
	c.rxw = nil
	c.rxwMu.Unlock()
	if terr != nil {
		return 0, c.opErr("recv", errnoOf(terr))
	}
	if res.Count == 0 {
		return 0, c.opErr("recv", errno.EAGAIN)
	}
	return res.Count, nil
}

// TCPQueued is the number of bytes in TCP's receive queue.
func (c *Conn) TCPQueued() int {
	v, err := c.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption)
	if err != nil {
		return 0
	}
	return v
}

// Readable is FIONREAD as the application sees it: ingress bytes, plus TCP
// bytes when no recv hook owns them.
func (c *Conn) Readable() int {
	n := c.IngressLen()
	if c.recvHook.Load() == nil {
		n += c.TCPQueued()
	}
	return n
}

// ---- send ----

// Write implements net.Conn. It goes through the send hook when one is set,
// otherwise straight to TCP, and blocks until all of b is queued.
func (c *Conn) Write(b []byte) (int, error) {
	if h := c.sendHook.Load(); h != nil {
		c.wrMu.Lock()
		c.iov1[0] = b
		n, err := (*h)(c, c.iov1[:], 0)
		c.iov1[0] = nil
		c.wrMu.Unlock()
		return n, err
	}
	return c.SendTCP(b, 0)
}

// Sendmsg is sendmsg(2) with an iovec: flags may hold MSG_DONTWAIT
// (partial write or EAGAIN instead of blocking) and MSG_MORE. It goes
// through the send hook when one is set.
func (c *Conn) Sendmsg(iov [][]byte, flags int) (int, error) {
	if h := c.sendHook.Load(); h != nil {
		c.wrMu.Lock()
		n, err := (*h)(c, iov, flags)
		c.wrMu.Unlock()
		return n, err
	}
	return c.SendTCPv(iov, flags)
}

// SendTCP is the raw tcp_sendmsg, for the send hook's PASS and for
// redirects from other sockets: it bypasses the send hook. Without
// MSG_DONTWAIT it blocks until all of b is queued (or an error or deadline
// ends it, returning the count queued so far); with MSG_DONTWAIT it queues
// what fits and returns that count, or EAGAIN if nothing fits. EPIPE after
// shutdown(SHUT_WR) or close.
func (c *Conn) SendTCP(b []byte, flags int) (int, error) {
	c.sndMu.Lock()
	defer c.sndMu.Unlock()
	c.sndIov[0] = b
	n, err := c.sendLocked(c.sndIov[:], flags)
	c.sndIov[0] = nil
	return n, err
}

// SendTCPv is SendTCP for an iovec.
func (c *Conn) SendTCPv(iov [][]byte, flags int) (int, error) {
	c.sndMu.Lock()
	defer c.sndMu.Unlock()
	return c.sendLocked(iov, flags)
}

func (c *Conn) sendLocked(iov [][]byte, flags int) (int, error) {
	c.sndRd.reset(iov)
	defer c.sndRd.reset(nil)
	want := c.sndRd.Len()
	if want == 0 {
		return 0, nil
	}
	if c.closed.Load() {
		return 0, c.opErr("write", errno.EPIPE)
	}
	opts := tcpip.WriteOptions{More: flags&MSG_MORE != 0}
	total := 0
	registered := false
	defer func() {
		if registered {
			c.wrq.EventUnregister(&c.wrEntry)
		}
	}()
	for {
		n, terr := c.ep.Write(&c.sndRd, opts)
		total += int(n)
		if terr == nil {
			if total >= want {
				return total, nil
			}
			if flags&MSG_DONTWAIT != 0 {
				return total, nil
			}
			continue
		}
		if _, wb := terr.(*tcpip.ErrWouldBlock); !wb {
			if total > 0 {
				return total, nil
			}
			return 0, c.opErr("write", errnoOf(terr))
		}
		if flags&MSG_DONTWAIT != 0 {
			if total > 0 {
				return total, nil
			}
			return 0, c.opErr("write", errno.EAGAIN)
		}
		if !registered {
			c.wrq.EventRegister(&c.wrEntry)
			registered = true
			continue
		}
		if err := c.block(c.wrCh, &c.wrDeadline); err != nil {
			if total > 0 {
				return total, c.opErr("write", err)
			}
			return 0, c.opErr("write", err)
		}
	}
}

// Writable reports whether a MSG_DONTWAIT send could queue something now
// (poll's POLLOUT; gVisor reports it once half the send buffer is free).
func (c *Conn) Writable() bool {
	return c.ep.Readiness(waiter.WritableEvents)&waiter.WritableEvents != 0
}

// block waits for ch, the deadline in dl, or Close.
func (c *Conn) block(ch chan struct{}, dl *atomic.Int64) error {
	d := dl.Load()
	if d == 0 {
		select {
		case <-ch:
			return nil
		case <-c.closeCh:
			return net.ErrClosed
		}
	}
	wait := time.Until(time.Unix(0, d))
	if wait <= 0 {
		return errDeadline
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-c.closeCh:
		return net.ErrClosed
	case <-t.C:
		if dl.Load() != d {
			return nil // deadline moved: re-check
		}
		return errDeadline
	}
}

// ---- deadlines (net.Conn) ----

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

// ---- shutdown, close ----

// Shutdown is shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. SHUT_WR
// sends a FIN after queued data; later sends fail with EPIPE.
func (c *Conn) Shutdown(how int) error {
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
		c.CloseIngress(io.EOF)
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

// Closed reports whether Close or Abort was called.
func (c *Conn) Closed() bool { return c.closed.Load() }

// iovReader is a tcpip.Payloader over an iovec, reused per Conn so a send
// allocates nothing.
type iovReader struct {
	iov [][]byte
	i   int
	off int
	n   int
}

func (r *iovReader) reset(iov [][]byte) {
	r.iov, r.i, r.off, r.n = iov, 0, 0, 0
	for _, b := range iov {
		r.n += len(b)
	}
}

func (r *iovReader) Len() int { return r.n }

func (r *iovReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	done := 0
	for done < len(p) && r.i < len(r.iov) {
		m := copy(p[done:], r.iov[r.i][r.off:])
		done += m
		r.off += m
		if r.off == len(r.iov[r.i]) {
			r.i++
			r.off = 0
		}
	}
	r.n -= done
	return done, nil
}

var errClosedListener = errors.New("listener closed")
