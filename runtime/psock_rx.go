package runtime

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/skmsg/skmsg/netstack"
)

// This file is the receive side of a psock: which receive mode a socket
// is in, the netstack recv hook that takes arriving TCP bytes (the
// kernel's replaced sk_data_ready), and the read side the application
// meets while a receive verdict is present (tcp_bpf_recvmsg_parser).
//
// Arrivals: netstack calls the hook after bytes arrive; everything TCP
// holds at that moment is taken as one skb. The kernel's unit is the
// receive skb (one segment, or what GRO/coalescing merged); here it is what
// arrived between two hook calls, which for writes below the MSS is one
// write.

// maxArrival caps what one hook call takes from TCP as one skb: the
// kernel's receive skbs hold at most 64 KiB (a GSO segment on loopback).
const maxArrival = 64 << 10

// rxMode is how received data reaches the application.
type rxMode uint8

const (
	rxNone    rxMode = iota // plain TCP (tcp_bpf_recvmsg: ingress queue first)
	rxStrp                  // parser + stream_verdict (strparser)
	rxVerdict               // stream_verdict or skb_verdict without parser
)

// rxState is the receive side's per-psock state. The hook goroutine owns
// strp and pending; mu guards them against stop and readers.
type rxState struct {
	mode rxMode

	mu   sync.Mutex
	strp strparser
	// err is the socket error a parser abort set (sk_err).
	err syscall.Errno
	// finSeen: the FIN has gone through the verdict (verdict-only mode).
	finSeen bool
	// pending holds verdict results that could not be delivered yet
	// (target ingress over its receive buffer, target send buffer full),
	// in order; while it is non-empty no new data is taken from TCP.
	pending []rxOut
	// blocked: what the first pending delivery waits for (nil when
	// nothing is pending); woken: an event may have made room since
	// (psock_backlog.go).
	blocked atomic.Pointer[heldOn]
	woken   atomic.Bool
	// unread is how far TCP's copied_seq lags behind what the receive
	// programs took (the kernel's rcv_nxt - copied_seq minus what TCP
	// still queues): bytes passed to the socket's own ingress count until
	// the application reads them, as tcp_bpf_recvmsg_parser advances
	// copied_seq by what it returns. Verdict-only mode accumulates; the
	// strparser sets copied_seq back by only the current read's passed
	// bytes (tcp_bpf_strp_read_sock). Reads of redirected-in bytes count
	// too, so it can go negative, and data_ready then stays silent until
	// that many more bytes arrived, as on the kernel.
	unread int
	// heldBack: bytes wait in TCP only because pending output held the
	// hook back. The kernel's strparser or verdict takes every arrival
	// at once (what does not fit the target waits in the psock's
	// ingress_skb backlog), so those bytes were read before any later
	// application read and data_ready's silence after a read that
	// overtakes rcv_nxt does not apply to them.
	heldBack bool
	// ownHeld counts the pending deliveries to the socket's own ingress
	// (passHeld).
	ownHeld int
}

// rxOut is one delivery that waits for room.
type rxOut struct {
	target  *Socket
	ingress bool
	// own: the bytes count as the target's own received data when read
	// (ingress_ledger.go).
	own bool
	// fin: the peer's FIN, redirected (fin_redirect.go); data is empty.
	fin  bool
	data []byte
}

// rxStartFor is called at insertion (under the socket's psockMu) with the
// programs of the map the socket enters, after they were copied into the
// psock: it picks the receive mode like sock_map_link does when the
// socket's data_ready is not already hooked, and takes over the socket's
// receive side. A listening socket never runs receive programs.
func (p *psock) rxStartFor(mp Progs) syscall.Errno {
	if p.rx.mode != rxNone {
		return 0
	}
	mode := rxNone
	switch {
	case mp.StreamParser != nil && mp.StreamVerdict != nil:
		mode = rxStrp
	case mp.StreamParser == nil && mp.StreamVerdict != nil:
		mode = rxVerdict
	case mp.StreamVerdict == nil && mp.SkbVerdict != nil:
		mode = rxVerdict
	}
	if mode == rxNone {
		return 0
	}
	p.rx.mu.Lock()
	p.rx.mode = mode
	p.rx.strp = strparser{}
	p.rx.finSeen = false
	p.rx.unread = 0
	p.rx.mu.Unlock()
	if c := p.sk.conn; c != nil {
		sk := p.sk
		c.Raw().SetRecvHook(sk.rxHook)
	}
	return 0
}

// rxStopFor is called when the socket leaves a map whose current programs
// are mp (sock_map_del_link): a running strparser/verdict hook stops when
// that map has the corresponding program, and the psock's receive slots
// are cleared.
func (p *psock) rxStopFor(mp Progs) {
	if p.rx.mode == rxNone {
		if mp.StreamParser != nil {
			p.progs.streamParser.Store(nil)
		}
		return
	}
	if mp.StreamParser != nil && p.rx.mode == rxStrp {
		p.progs.streamParser.Store(nil)
	}
	if mp.StreamVerdict != nil || mp.SkbVerdict != nil {
		p.progs.streamVerdict.Store(nil)
		p.progs.skbVerdict.Store(nil)
		p.rxStop()
	}
}

// rxStop stops the receive side (psock drop, or its verdict's map
// removed): TCP data goes back to the application; a frame the parser
// held is lost with the strparser, as strp_done frees it.
func (p *psock) rxStop() {
	p.rx.mu.Lock()
	was := p.rx.mode
	p.rx.mode = rxNone
	p.rx.strp = strparser{}
	p.rx.pending, p.rx.ownHeld = nil, 0
	p.rx.mu.Unlock()
	p.unheld()
	if was != rxNone && p.sk.conn != nil {
		p.sk.conn.Raw().SetRecvHook(nil)
	}
}

// rxActive reports whether a receive verdict owns the socket's receive
// side.
func (p *psock) rxActive() bool {
	p.rx.mu.Lock()
	defer p.rx.mu.Unlock()
	return p.rx.mode != rxNone || p.rx.err != 0
}

// purgeIngress discards unread ingress data when the psock is dropped.
// The ingress queue is the connection's (netstack RawConn.Inject), which has
// no purge operation yet: unread redirected data stays readable after the
// socket leaves its last map (the kernel discards it).
func (p *psock) purgeIngress() {}

// rcvbuf is sk_rcvbuf: Linux's default for a TCP socket unless SO_RCVBUF
// changed the endpoint's buffer.
func (s *Socket) rcvbuf() int {
	const linuxDefault = 131072
	if s.conn == nil {
		return linuxDefault
	}
	v := int(s.conn.Raw().Endpoint().SocketOptions().GetReceiveBufferSize())
	if v == tcp.DefaultReceiveBufferSize || v <= 0 {
		return linuxDefault
	}
	return v
}

// ingressFull is the sk_rmem_alloc > sk_rcvbuf check of
// sk_psock_skb_ingress: the ingress queue holds more than the receive
// buffer.
func (s *Socket) ingressFull() bool {
	return s.conn != nil && s.conn.Raw().IngressLen() > s.rcvbuf()
}

// rxHook is the socket's data_ready while a receive verdict is present:
// it takes what TCP holds and runs the strparser or the verdict on it.
func (s *Socket) rxHook(c *netstack.Conn) {
	p := s.psock.Load()
	if p == nil {
		return
	}
	rx := &p.rx
	rx.mu.Lock()
	defer rx.mu.Unlock()
	if rx.mode == rxNone {
		return
	}
	// Held deliveries go on after a parser abort too: they are the
	// backlog's, which the parser's state does not stop.
	flushed := p.flushPending()
	if rx.err != 0 {
		return
	}
	if !flushed && rx.passHeld(p.sk) {
		rx.heldBack = rx.heldBack || c.Raw().TCPQueued() > 0
		return
	}
	// tcp_data_ready calls data_ready only once SO_RCVLOWAT bytes are
	// available (rcv_nxt - copied_seq: queued in TCP plus rx.unread) or
	// the peer's FIN arrived (SOCK_DONE): below the threshold the receive
	// programs do not run and the bytes wait in TCP. One data_ready then
	// reads everything queued; the strparser's read restarts the lag.
	q := c.Raw().TCPQueued()
	if q > 0 && q+rx.unread < rcvlowat(c) && !peerFinished(c) && !rx.heldBack {
		return
	}
	rx.heldBack = false
	if q > 0 && rx.mode == rxStrp {
		rx.unread = 0
	}
	for rx.mode != rxNone && rx.err == 0 && !rx.passHeld(p.sk) {
		// Redirected bytes held from earlier arrivals go as soon as their
		// target has room, not only at the next data_ready: the kernel's
		// backlog worker runs beside the verdict.
		if len(rx.pending) > 0 && rx.woken.Load() {
			p.flushPending()
		}
		n := c.Raw().TCPQueued()
		if n == 0 {
			// Reads return EOF after a local SHUT_RD too, which runs no
			// program: only the peer's FIN goes through the verdict, as an
			// empty skb.
			if rx.mode == rxVerdict && !rx.finSeen && peerFinished(c) {
				var one [1]byte
				if _, err := c.Raw().PeekTCP(one[:]); errors.Is(err, io.EOF) {
					rx.finSeen = true
					p.verdictRecv(nil)
				}
			}
			return
		}
		if n > maxArrival {
			n = maxArrival
		}
		// A FIN that arrives while data waits in TCP is coalesced into
		// the last queued skb (tcp_try_coalesce): that skb's verdict run
		// stands for the FIN too, which then gets no empty run of its own.
		fin := rx.mode == rxVerdict && peerFinished(c)
		buf := make([]byte, n)
		got, err := c.Raw().RecvTCP(buf)
		if err != nil || got == 0 {
			return
		}
		buf = buf[:got]
		if fin && c.Raw().TCPQueued() == 0 {
			rx.finSeen = true
		}
		switch rx.mode {
		case rxStrp:
			p.strpRecv(buf)
		case rxVerdict:
			p.verdictRecv(buf)
		}
	}
	rx.heldBack = rx.passHeld(p.sk) && c.Raw().TCPQueued() > 0
}

// passHeld reports whether bytes the verdict passed to the socket's own
// ingress queue wait for room: only those hold TCP's data back. They stay
// charged to the socket's receive memory, so its window closes and the
// sender blocks. Redirected bytes, to another socket's ingress or egress,
// wait in the target's backlog (ingress_skb) without bound and without
// stopping the verdict from taking what arrives next: on the kernel a
// sender whose bytes an sk_skb program redirects to a socket that never
// reads is never blocked (128 MiB went through on 6.18 with none read).
func (rx *rxState) passHeld(self *Socket) bool { return rx.ownHeld > 0 }

// hold appends o to the pending deliveries.
func (rx *rxState) hold(self *Socket, o rxOut) {
	if o.target == self && o.own {
		rx.ownHeld++
	}
	rx.pending = append(rx.pending, o)
}

// dropHead removes the first pending delivery.
func (rx *rxState) dropHead(self *Socket) {
	if o := &rx.pending[0]; o.target == self && o.own {
		rx.ownHeld--
	}
	rx.pending[0] = rxOut{}
	rx.pending = rx.pending[1:]
}

// rcvlowat is the socket's SO_RCVLOWAT (at least 1).
func rcvlowat(c *netstack.Conn) int {
	v, err := c.GetSockoptInt(netstack.SOL_SOCKET, netstack.SO_RCVLOWAT)
	if err != nil || v < 1 {
		return 1
	}
	return v
}

// peerFinished reports whether the peer's FIN has arrived (the kernel's
// SOCK_DONE): the TCP state is one only a received FIN leads to. A local
// SHUT_RD leaves the state as it was.
func peerFinished(c *netstack.Conn) bool {
	switch c.Raw().State() {
	case netstack.StateCloseWait, netstack.StateLastAck, netstack.StateClosing,
		netstack.StateTimeWait, netstack.StateClose:
		return true
	}
	return false
}

// flushPending retries held deliveries in order; it reports whether all
// went out.
func (p *psock) flushPending() bool {
	rx := &p.rx
	for len(rx.pending) > 0 {
		o := rx.pending[0]
		if o.fin {
			o.target.redirectedFIN(o.ingress)
			rx.dropHead(p.sk)
			continue
		}
		m := o.target.markRoom()
		done, n := p.sk.deliver(o.target, o.ingress, o.own, o.data)
		if !done {
			rx.pending[0].data = o.data[n:]
			p.waitRoom(o.target, o.ingress, m)
			return false
		}
		rx.dropHead(p.sk)
	}
	rx.pending, rx.ownHeld = nil, 0
	p.unheld()
	return true
}

// queueOut delivers data to target now if it can, else keeps it (and
// everything after it) pending.
func (p *psock) queueOut(target *Socket, ingress, own bool, data []byte) {
	rx := &p.rx
	if len(rx.pending) == 0 {
		m := target.markRoom()
		done, n := p.sk.deliver(target, ingress, own, data)
		if done {
			return
		}
		data = data[n:]
		rx.hold(p.sk, rxOut{target: target, ingress: ingress, own: own, data: data})
		p.waitRoom(target, ingress, m)
		return
	}
	rx.hold(p.sk, rxOut{target: target, ingress: ingress, own: own, data: data})
}

// deliver moves data to target's ingress queue or sends it on target's
// egress (the psock backlog worker's sk_psock_handle_skb). It reports
// whether everything went, and how many bytes did. A target that is gone
// (no psock, closed) drops the data silently, as the kernel frees the skb.
func (s *Socket) deliver(target *Socket, ingress, own bool, data []byte) (bool, int) {
	if len(data) == 0 {
		return true, 0
	}
	tp := target.psock.Load()
	if tp == nil || !tp.txEnabled.Load() || target.conn == nil || target.closed.Load() {
		return true, len(data)
	}
	if ingress {
		if target.ingressFull() {
			return false, 0
		}
		if err := target.conn.Raw().InjectOwned(data); err != nil {
			return true, len(data)
		}
		target.ledger.add(len(data), own)
		return true, len(data)
	}
	// Egress goes through the target's sendmsg (skb_send_sock), so a msg
	// program on the target runs; without blocking, as the worker does.
	n, err := target.conn.SendMsg([][]byte{data}, netstack.MSG_DONTWAIT)
	if n == len(data) {
		return true, n
	}
	if err != nil && !errors.Is(err, errno.EAGAIN) {
		// A hard error: the kernel sets it on the target and disables
		// its TX; the data is lost.
		tp.txEnabled.Store(false)
		target.roomChanged() // held deliveries to it are dropped now
		return true, len(data)
	}
	return false, n
}

// rxRecvmsg is tcp_bpf_recvmsg_parser: with a receive verdict the
// application reads only the ingress queue. After a parser abort the
// skb that failed stays in TCP's receive queue, so reads find it there
// and return EAGAIN without ever reporting the socket error.
func (s *Socket) rxRecvmsg(p *psock, b []byte, flags int) (int, error) {
	p.rx.mu.Lock()
	aborted := p.rx.err != 0
	p.rx.mu.Unlock()
	if aborted && s.conn.Raw().IngressLen() == 0 {
		return 0, errno.EAGAIN
	}
	n, err := s.conn.RecvMsg(b, flags&(netstack.MSG_DONTWAIT|netstack.MSG_PEEK))
	if n == 0 && errors.Is(err, io.EOF) {
		// The peer's FIN behind a message the parser holds in part is
		// not read as the end of the stream while copied_seq has not
		// passed rcv_nxt: the strparser read that took the part set
		// copied_seq to rcv_nxt (it passed nothing), and the FIN's
		// sequence number is then still unread, so 6.18 answers EAGAIN
		// for good. A read since then of bytes an earlier strparser read
		// passed (unread < 0) pushed copied_seq past the FIN: the end of
		// the stream shows.
		p.rx.mu.Lock()
		holding := p.rx.mode == rxStrp && p.rx.strp.head != nil && p.rx.unread >= 0
		p.rx.mu.Unlock()
		if holding {
			return 0, errno.EAGAIN
		}
	}
	if n > 0 && flags&netstack.MSG_PEEK == 0 {
		own := s.ledger.take(n)
		p.rx.mu.Lock()
		p.rx.unread -= own
		if p.rx.mode == rxStrp && flags&netstack.MSG_DONTWAIT == 0 && p.rx.unread < 0 {
			// A negative lag means this read took bytes an earlier
			// strparser read passed, after a later read reset the lag
			// (tcp_bpf_strp_read_sock re-derives copied_seq): copied_seq
			// overtakes rcv_nxt and data_ready stays silent until that
			// many more bytes arrive, so a stream's tail can sit in TCP
			// for good. Whether the kernel does that depends on whether
			// its reader ran before or after the strparser: a blocking
			// reader waits alongside arrivals, so skmsg takes the order
			// in which it read those bytes first and nothing is held.
			// Non-blocking reads (scenario recv steps, which run between
			// arrivals) keep the kernel's deterministic order.
			p.rx.unread = 0
		}
		kick := len(p.rx.pending) > 0
		p.rx.mu.Unlock()
		if kick {
			s.conn.Raw().KickRecv()
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, sockErr(err)
	}
	return n, err
}

// abort is strp_abort_strp: the parser stops for good with the socket
// error set (sk_err; visible to SO_ERROR, not to reads, see rxRecvmsg).
func (p *psock) abort(e syscall.Errno) {
	p.rx.err = e
	p.rx.strp = strparser{}
}

// SockError is the pending socket error a stream parser abort set
// (SO_ERROR), 0 if none.
func (s *Socket) SockError() syscall.Errno {
	p := s.psock.Load()
	if p == nil {
		return 0
	}
	p.rx.mu.Lock()
	defer p.rx.mu.Unlock()
	return p.rx.err
}
