package runtime

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/skmsg/skmsg/netstack"
)

// TCPState is a TCP state with Linux's numbering.
type TCPState = netstack.TCPState

// TCP states a socket can be in.
const (
	StateEstablished = netstack.StateEstablished
	StateListen      = netstack.StateListen
	StateCloseWait   = netstack.StateCloseWait
	StateClose       = netstack.StateClose
)

// Socket is a TCP socket of the runtime's virtual network, numbered like a
// file descriptor. Reads and writes go through the sockmap pipeline when
// the socket is in a sockmap or sockhash, as with the kernel's tcp_bpf. A
// connected Socket is a net.Conn, deadlines included.
type Socket struct {
	rt   *Runtime
	fd   int32
	conn *netstack.Conn     // connected socket
	ln   *netstack.Listener // listening socket
	info sockInfo

	// msgMd and bpfSock are the socket's fixed parts of the contexts.
	msgMd   [skMsgMdSize]byte
	bpfSock [bpfSockSize]byte

	cookie atomic.Uint64

	// mu is the socket lock of the send path: it guards the psock's send
	// state (verdict cache, apply/cork bytes, cork message).
	mu sync.Mutex
	// psockMu serializes psock creation, program inheritance and protocol
	// switching.
	psockMu sync.Mutex
	psock   atomic.Pointer[psock]
	// out is the send path's pending output (under mu).
	out pendingOut
	// held are bytes a MSG_MORE push left in TCP's write queue: they go
	// out with the next push without MSG_MORE, or at close.
	heldMu sync.Mutex
	held   []byte
	// heldTimer is the probe timer that sends held bytes (tcp_bpf.go).
	heldTimer tcpip.Timer
	// purged counts bytes at the head of the ingress queue that belong to
	// a psock that was dropped: the kernel frees them with the psock, so
	// the next read discards them first.
	purged atomic.Int64

	closed atomic.Bool
	// lnShut: a listening socket shut down for reading (listener.go).
	lnShut atomic.Bool

	// softErr is the socket's pending error (sk_err), reported once by
	// the next send or read that finds nothing (fin_redirect.go).
	softErr atomic.Int32

	// ledger tells the reader which ingress bytes were its own
	// (ingress_ledger.go).
	ledger ingressLedger

	// ops is the socket's sock_ops state (sockops.go).
	ops sockOpsSock

	// room: psocks whose held deliveries wait for room in this socket
	// (psock_backlog.go).
	room roomWait
}

func (rt *Runtime) newSocket(c *netstack.Conn, ln *netstack.Listener) *Socket {
	s := &Socket{rt: rt, conn: c, ln: ln}
	if c != nil {
		s.info = newSockInfo(c.LocalAddrPort(), c.RemoteAddrPort())
		c.Raw().SetOwner(s)
		c.Raw().SetConsumeHook(func(*netstack.Conn) { s.roomChanged() })
		c.Raw().SetWriteSpaceHook(func(*netstack.Conn) { s.writeSpace() })
	} else if ln != nil {
		s.info = newSockInfo(ln.AddrPort(), ln.AddrPort())
		s.info.remote = netipZeroPort(s.info.remote)
	}
	s.info.fillMsgMd(s.msgMd[:])
	s.info.fillBpfSock(s.bpfSock[:])
	rt.installFD(s)
	return s
}

// FD is the socket's descriptor number: what a sockmap update from user
// space takes as the value.
func (s *Socket) FD() int { return int(s.fd) }

// Conn is the underlying connection of the virtual network (nil for a
// listening socket).
func (s *Socket) Conn() *netstack.Conn { return s.conn }

// Cookie is the socket cookie (SO_COOKIE, what a sockmap lookup returns),
// assigned on first use.
func (s *Socket) Cookie() uint64 {
	if c := s.cookie.Load(); c != 0 {
		return c
	}
	s.cookie.CompareAndSwap(0, s.rt.cookies.Add(1))
	return s.cookie.Load()
}

// State is the TCP state.
func (s *Socket) State() TCPState {
	if s.closed.Load() {
		return StateClose
	}
	if s.ln != nil {
		if s.lnShut.Load() {
			return StateClose // listener.go: shut down for reading
		}
		return StateListen
	}
	if s.conn == nil {
		return netstack.StateNewSynRecv // a request sock (sockops.go)
	}
	return s.conn.Raw().State()
}

func (s *Socket) String() string {
	if s.ln != nil {
		return fmt.Sprintf("fd %d (listening %s)", s.fd, s.info.local)
	}
	return fmt.Sprintf("fd %d (%s->%s)", s.fd, s.info.local, s.info.remote)
}

// LocalAddr and RemoteAddr are the socket's addresses (net.Conn).
func (s *Socket) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(s.info.local) }
func (s *Socket) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(s.info.remote) }

// Progs returns the programs the socket's psock holds (zero when the
// socket is in no map).
func (s *Socket) Progs() Progs {
	if p := s.psock.Load(); p != nil {
		return p.snapshot()
	}
	return Progs{}
}

// InMap reports whether the socket has a psock (is in at least one map).
func (s *Socket) InMap() bool { return s.psock.Load() != nil }

// Write is write(2): with an sk_msg program it runs the verdict.
func (s *Socket) Write(b []byte) (int, error) {
	if s.ln != nil {
		return s.listenerSend([][]byte{b})
	}
	if s.conn == nil {
		return 0, errno.ENOTCONN
	}
	if e := s.takeSoftErr(); e != 0 {
		return 0, e
	}
	s.flushHeldPlain()
	n, err := s.conn.Write(b)
	return n, sockErr(err)
}

// SendMsg is sendmsg(2) with an iovec and MSG_* flags (MSG_DONTWAIT,
// MSG_MORE, MSG_NOSIGNAL, MSG_EOR are accepted).
func (s *Socket) SendMsg(iov [][]byte, flags int) (int, error) {
	if s.ln != nil {
		return s.listenerSend(iov)
	}
	if s.conn == nil {
		return 0, errno.ENOTCONN
	}
	if e := s.takeSoftErr(); e != 0 {
		return 0, e
	}
	s.flushHeldPlain()
	n, err := s.conn.SendMsg(iov, flags&(netstack.MSG_DONTWAIT|netstack.MSG_MORE))
	return n, sockErr(err)
}

// Read is read(2): data redirected to the socket's ingress queue first,
// never mixed with TCP data in one call (tcp_bpf_recvmsg). io.EOF at end
// of stream.
func (s *Socket) Read(b []byte) (int, error) {
	return s.RecvMsg(b, 0)
}

// RecvMsg is recv(2) with MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL.
func (s *Socket) RecvMsg(b []byte, flags int) (int, error) {
	if s.ln != nil {
		return s.listenerRecv()
	}
	if s.conn == nil {
		return 0, errno.ENOTCONN
	}
	if s.softErr.Load() != 0 && flags&netstack.MSG_DONTWAIT == 0 {
		// A pending error ends a read that finds nothing (tcp_recvmsg
		// checks sk_err before it waits): try without waiting first.
		n, err := s.recvMsg(b, flags|netstack.MSG_DONTWAIT)
		if !errors.Is(err, errno.EAGAIN) {
			return n, err
		}
		if e := s.takeSoftErr(); e != 0 {
			return 0, e
		}
	}
	n, err := s.recvMsg(b, flags)
	if n == 0 && errors.Is(err, errno.EAGAIN) {
		if e := s.takeSoftErr(); e != 0 {
			return 0, e
		}
	}
	return n, err
}

func (s *Socket) recvMsg(b []byte, flags int) (int, error) {
	s.dropPurged()
	// With a receive verdict, reads follow tcp_bpf_recvmsg_parser (psock_rx.go).
	if p := s.psock.Load(); p != nil && p.rxActive() {
		return s.rxRecvmsg(p, b, flags)
	}
	inIngress := s.ledger.queued()
	n, err := s.conn.RecvMsg(b, flags&(netstack.MSG_DONTWAIT|netstack.MSG_PEEK|netstack.MSG_WAITALL))
	if n > 0 && inIngress > 0 && flags&netstack.MSG_PEEK == 0 {
		// Queued ingress data is read first and never mixed with TCP
		// data in one call: these bytes came from the ingress queue.
		s.ledger.take(n)
	}
	if errors.Is(err, io.EOF) {
		return n, io.EOF
	}
	return n, sockErr(err)
}

// Fionread is ioctl(FIONREAD). On the 6.18 kernel a socket with a psock
// answers from its psock: the bytes on its ingress queue only, not the TCP
// receive queue (0 while only TCP data is queued); a socket in no map
// answers with its TCP receive queue.
func (s *Socket) Fionread() (int, error) {
	if s.ln != nil {
		if s.lnShut.Load() {
			return 0, nil // no longer listening: an empty queue
		}
		return 0, errno.EINVAL // listener.go
	}
	if s.conn == nil {
		return 0, errno.ENOTCONN
	}
	if s.psock.Load() != nil {
		return max(s.conn.Raw().IngressLen()-int(s.purged.Load()), 0), nil
	}
	return s.conn.Raw().TCPQueued(), nil
}

// SetDeadline implements net.Conn: a Read or Write blocked past t returns
// an error for which errors.Is(err, os.ErrDeadlineExceeded) holds and
// whose Timeout method reports true, with the bytes moved so far. A zero t
// removes the deadline. A listening socket has no reads to time out:
// ENOTCONN.
func (s *Socket) SetDeadline(t time.Time) error {
	if s.conn == nil {
		return errno.ENOTCONN
	}
	return s.conn.SetDeadline(t)
}

// SetReadDeadline implements net.Conn (see SetDeadline).
func (s *Socket) SetReadDeadline(t time.Time) error {
	if s.conn == nil {
		return errno.ENOTCONN
	}
	return s.conn.SetReadDeadline(t)
}

// SetWriteDeadline implements net.Conn (see SetDeadline).
func (s *Socket) SetWriteDeadline(t time.Time) error {
	if s.conn == nil {
		return errno.ENOTCONN
	}
	return s.conn.SetWriteDeadline(t)
}

// Shutdown is shutdown(2) with SHUT_RD, SHUT_WR or SHUT_RDWR.
func (s *Socket) Shutdown(how int) error {
	if s.ln != nil {
		return s.listenerShutdown(how)
	}
	if s.conn == nil {
		return errno.ENOTCONN
	}
	if err := s.conn.Shutdown(how); err != nil {
		return sockErr(err)
	}
	if how == netstack.SHUT_WR || how == netstack.SHUT_RDWR {
		s.rt.sentFIN(s, false) // tcp_state.go: STATE_CB of the FIN
	}
	return nil
}

// Close removes the socket from every map (sock_map_close), drops its
// psock (held cork data and unread ingress data are lost), then closes the
// connection and frees the descriptor number.
func (s *Socket) Close() error {
	if s.closed.Swap(true) {
		return errno.EBADF
	}
	s.removeFromMaps()
	var err error
	if s.conn != nil {
		s.flushHeld()
		err = s.conn.Close()
	} else if s.ln != nil && !s.lnShut.Load() {
		err = s.ln.Close()
	}
	s.rt.freeFD(s)
	// Deliveries held for this socket are dropped now.
	s.roomChanged()
	return sockErr(err)
}

// removeFromMaps is sock_map_remove_links: unlink the socket from every
// map entry that holds it; the last one drops the psock.
func (s *Socket) removeFromMaps() {
	for {
		p := s.psock.Load()
		if p == nil {
			return
		}
		p.mu.Lock()
		if len(p.links) == 0 {
			p.mu.Unlock()
			return
		}
		l := p.links[0]
		p.mu.Unlock()
		before := s.psock.Load()
		l.m.unlink(s, l.raw)
		if s.psock.Load() == before && before != nil {
			// The entry no longer held s (overwritten concurrently):
			// drop the stale link so the loop ends.
			p.mu.Lock()
			if len(p.links) > 0 && p.links[0] == l {
				p.links = p.links[1:]
				p.mu.Unlock()
				p.put()
				continue
			}
			p.mu.Unlock()
		}
	}
}

// updateProto switches the send path the way tcp_bpf_update_proto swaps
// proto ops: the sk_msg send hook is installed while the psock has a msg
// program.
func (s *Socket) updateProto() {
	if s.conn == nil {
		return
	}
	p := s.psock.Load()
	if p != nil && !p.dead.Load() && p.progs.msg.Load() != nil {
		s.conn.Raw().SetSendHook(s.sendHook)
	} else {
		s.conn.Raw().SetSendHook(nil)
	}
}

// sockErr reduces netstack errors to their errno, keeping io.EOF.
func sockErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	if errors.Is(err, net.ErrClosed) {
		return errno.EBADF
	}
	return err
}

// errnoOf is the errno carried by err (EIO when it has none).
func errnoOf(err error) syscall.Errno {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return errno.EPIPE
	}
	return errno.EIO
}

// SetSockopt sets an integer socket option by name: SO_RCVBUF, SO_SNDBUF,
// SO_RCVLOWAT, SO_SNDLOWAT, SO_KEEPALIVE, TCP_NODELAY, TCP_CORK.
func (s *Socket) SetSockopt(name string, value int) error {
	if s.conn == nil && s.ln == nil {
		return errno.EBADF
	}
	var level, opt int
	switch name {
	case "SO_RCVBUF":
		level, opt = netstack.SOL_SOCKET, netstack.SO_RCVBUF
	case "SO_SNDBUF":
		level, opt = netstack.SOL_SOCKET, netstack.SO_SNDBUF
	case "SO_RCVLOWAT":
		level, opt = netstack.SOL_SOCKET, netstack.SO_RCVLOWAT
	case "SO_KEEPALIVE":
		level, opt = netstack.SOL_SOCKET, netstack.SO_KEEPALIVE
	case "TCP_NODELAY":
		level, opt = netstack.SOL_TCP, netstack.TCP_NODELAY
	case "TCP_CORK":
		level, opt = netstack.SOL_TCP, netstack.TCP_CORK
	case "SO_SNDLOWAT":
		// Not changeable on Linux: setsockopt fails with ENOPROTOOPT.
		return errno.ENOPROTOOPT
	default:
		return fmt.Errorf("unknown socket option %s", name)
	}
	if s.conn != nil {
		if err := s.conn.SetSockoptInt(level, opt, value); err != nil {
			return sockErr(err)
		}
		if level == netstack.SOL_SOCKET && (opt == netstack.SO_RCVBUF || opt == netstack.SO_SNDBUF) {
			// A larger buffer is room for held deliveries.
			s.roomChanged()
		}
		if opt == netstack.SO_RCVLOWAT && level == netstack.SOL_SOCKET {
			// tcp_set_rcvlowat calls tcp_data_ready: a receive program
			// held back by the old threshold may run now.
			s.conn.Raw().KickRecv()
		}
		return nil
	}
	return sockErr(s.ln.SetSockoptInt(level, opt, value))
}

// flushHeldPlain sends held bytes before a write that goes straight to
// TCP; with an sk_msg program the verdict's own push decides.
func (s *Socket) flushHeldPlain() {
	if p := s.psock.Load(); p != nil && p.progs.msg.Load() != nil {
		return
	}
	s.flushHeld()
}

// purgeIngress marks what the ingress queue holds as discarded, as the
// kernel purges ingress_msg when the psock goes away.
func (s *Socket) purgeIngress() {
	if s.conn != nil {
		s.purged.Store(int64(s.conn.Raw().IngressLen()))
	}
}

// dropPurged discards the purged bytes at the head of the ingress queue.
// Reads take the ingress queue first, so a non-blocking read of exactly
// that many bytes removes just them.
func (s *Socket) dropPurged() {
	for {
		n := s.purged.Load()
		if n <= 0 {
			return
		}
		var scratch [4096]byte
		want := int(min(n, int64(len(scratch))))
		if s.conn.Raw().IngressLen() < want {
			s.purged.Store(0)
			return
		}
		got, err := s.conn.RecvMsg(scratch[:want], netstack.MSG_DONTWAIT)
		if err != nil || got == 0 {
			s.purged.Store(0)
			return
		}
		s.ledger.take(got)
		s.purged.Add(-int64(got))
	}
}
