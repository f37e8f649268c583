package runtime

import (
	"syscall"
	"time"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/skmsg/skmsg/netstack"
)

// This file is the TCP send path with an sk_msg program (tcp_bpf_sendmsg and
// tcp_bpf_send_verdict): user data is copied into a scatterlist message,
// the program runs on it, and the verdict sends, redirects or drops it.

// sendHook replaces TCP sendmsg on a socket whose psock has a msg program.
// netstack serializes application writes per connection, like lock_sock.
func (s *Socket) sendHook(c *netstack.Conn, iov [][]byte, flags int) (int, error) {
	p := s.psock.Load()
	if p == nil || p.progs.msg.Load() == nil || !p.get() {
		return c.Raw().SendTCPv(iov, flags)
	}
	n, err := s.bpfSendmsg(p, iov, flags)
	p.put()
	return n, err
}

// bpfSendmsg is tcp_bpf_sendmsg.
func (s *Socket) bpfSendmsg(p *psock, iov [][]byte, flags int) (int, error) {
	total := 0
	for _, b := range iov {
		total += len(b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	copied := 0
	var err syscall.Errno
	off := 0
	var tmp *Msg
	for off < total {
		var m *Msg
		if p.cork != nil {
			m = p.cork
		} else {
			if tmp == nil {
				tmp = newMsg()
			}
			m = tmp
		}
		n, enospc := m.fill(iov, off, total-off)
		off += n
		copied += n
		if p.corkBytes > 0 {
			if uint32(total) > p.corkBytes {
				p.corkBytes = 0
			} else {
				p.corkBytes -= uint32(total)
			}
			if p.corkBytes > 0 && !enospc {
				break
			}
			// All cork bytes are accounted: re-run the program.
			p.eval = verdictNone
			p.corkBytes = 0
		}
		e := s.sendVerdict(p, m, &copied, flags)
		if m == tmp && p.cork == tmp {
			tmp = nil // the psock now holds it as its cork message
		} else if m == tmp {
			tmp.init()
		}
		if e != 0 {
			err = e
			break
		}
	}
	if tmp != nil {
		tmp.release()
	}
	if unsent, e := s.out.flush(flags); e != 0 {
		// A push that fails in the kernel returns its error at once and
		// the unsent bytes are not counted; here the failure surfaces at
		// the flush, with the same count.
		copied -= unsent
		if err == 0 {
			err = e
		}
	}
	if copied > 0 {
		return copied, nil
	}
	if err != 0 {
		return 0, err
	}
	return 0, nil
}

// sendVerdict is tcp_bpf_send_verdict. It is called with s.mu held and
// releases it around a redirect, as the kernel releases the sender's socket
// lock before taking the target's.
func (s *Socket) sendVerdict(p *psock, m *Msg, copied *int, flags int) syscall.Errno {
	enospc := m.Full()
	var delta int64
	for {
		if p.eval == verdictNone {
			before := int64(m.size)
			p.eval = s.rt.msgVerdict(s, p, m)
			delta = before - int64(m.size)
		}
		if m.CorkBytes > 0 && m.CorkBytes > m.size && !enospc {
			p.corkBytes = m.CorkBytes - m.size
			if p.cork == nil {
				p.cork = m
			}
			return 0
		}
		tosend := m.size
		if p.applyBytes > 0 && p.applyBytes < tosend {
			tosend = p.applyBytes
		}
		eval := verdictNone
		var ret syscall.Errno
		switch p.eval {
		case verdictPass:
			s.out.queue(s, false, m, tosend)
			p.consumeApply(tosend)
		case verdictRedirect:
			ingress, target := p.redirIngress, p.skRedir
			p.consumeApply(tosend)
			if p.applyBytes == 0 {
				eval = p.eval
				p.eval = verdictNone
				p.skRedir = nil
			}
			cork := false
			if p.cork != nil {
				cork = true
				p.cork = nil
			}
			e := s.sendmsgRedir(target, ingress, m, tosend, flags)
			if e != 0 {
				freed := m.free()
				if !cork {
					*copied -= int(freed)
				}
				ret = e
			}
			if cork {
				m.release()
				m = nil
				ret = 0
			}
		default:
			m.free()
			p.consumeApply(tosend)
			*copied -= int(int64(tosend) + delta)
			return errno.EACCES
		}
		_ = eval
		if ret != 0 {
			return ret
		}
		if p.applyBytes == 0 {
			p.eval = verdictNone
			p.skRedir = nil
		}
		if m == nil || m.size == 0 {
			return 0
		}
	}
}

// consumeApply is sk_msg_apply_bytes.
func (p *psock) consumeApply(n uint32) {
	if p.applyBytes > 0 {
		if p.applyBytes < n {
			p.applyBytes = 0
		} else {
			p.applyBytes -= n
		}
	}
}

// sendmsgRedir is tcp_bpf_sendmsg_redir: deliver up to n bytes of m to
// target's egress (its TCP, without running its msg program) or to its
// ingress queue. The target must have a psock now (else EPIPE); the bytes
// are queued on the sender's pending output and moved when it is flushed.
func (s *Socket) sendmsgRedir(target *Socket, ingress bool, m *Msg, n uint32, flags int) syscall.Errno {
	if target == nil {
		return errno.EPIPE
	}
	tp := target.psock.Load()
	if tp == nil || tp.dead.Load() {
		return errno.EPIPE
	}
	s.out.queue(target, ingress, m, n)
	return 0
}

// pendingOut coalesces what consecutive verdicts of one sendmsg deliver to
// the same place, as the kernel's tcp_sendmsg_locked coalesces pushes into
// the tail skb: one TCP send or one ingress message per run of bytes
// instead of one per verdict (apply_bytes(1) makes a verdict per byte).
// Only the sending socket's goroutine touches it, under s.mu.
type pendingOut struct {
	target   *Socket
	ingress  bool
	buf      []byte // egress bytes (reused)
	more     bool   // the last push was a partial element (MSG_MORE)
	complete bool   // some push of the batch was a whole element
	owned    []byte // ingress bytes (handed over at flush)
	// ownedPg is the page owned lies in when a fragment was handed over
	// whole; the target's queue releases it back to the pool once read.
	ownedPg *page
}

// handOverMin is the smallest message whose fragment is handed to an
// ingress queue instead of copied: below it a copy is cheaper than keeping
// a 32 KiB fragment out of the pool until the reader gets to it.
const handOverMin = 4096

// queue moves the first n bytes of m to the pending output for (target,
// ingress), flushing what was pending for another destination first.
func (o *pendingOut) queue(target *Socket, ingress bool, m *Msg, n uint32) {
	if n > m.size {
		n = m.size
	}
	if o.target != nil && (o.target != target || o.ingress != ingress) {
		o.flushQuiet()
	}
	o.target, o.ingress = target, ingress
	if ingress && o.owned == nil && n == m.size && m.n == 1 && n >= handOverMin && m.sg[0].pg.refs.Load() == 1 {
		// Hand the fragment itself to the target's queue, as the kernel
		// moves page references: no copy. The reference goes with it and
		// comes back to the pool when the queue releases it.
		e := &m.sg[0]
		o.owned = e.pg.b[e.offset : e.offset+n : e.offset+n]
		o.ownedPg = e.pg
		m.sg[0] = sge{}
		m.n, m.size = 0, 0
		return
	}
	if ingress && o.ownedPg != nil {
		// More bytes for the same queue: copy the handed-over fragment
		// into a buffer of its own and give the page back.
		o.owned = append(make([]byte, 0, len(o.owned)+int(n)), o.owned...)
		o.ownedPg.put()
		o.ownedPg = nil
	}
	if ingress && o.owned == nil {
		// Ingress bytes are handed to the target's queue, which keeps
		// them: build them in a buffer of their own (one copy).
		o.owned = make([]byte, 0, n)
	}
	dst := &o.buf
	if ingress {
		dst = &o.owned
	}
	left := n
	partial := false
	for i := 0; i < m.n && left > 0; i++ {
		e := &m.sg[i]
		take := e.length
		if left < take {
			take = left
		}
		*dst = append(*dst, e.pg.b[e.offset:e.offset+take]...)
		left -= take
		partial = take < e.length
	}
	// tcp_bpf_push sends a piece smaller than its element with MSG_MORE:
	// TCP then holds it until a push without MSG_MORE.
	o.more = partial && !ingress
	if !partial && !ingress {
		o.complete = true
	}
	m.consume(n)
}

// flushQuiet delivers pending bytes, ignoring failures.
func (o *pendingOut) flushQuiet() { o.flush(0) }

// flush delivers pending bytes and returns how many could not be sent
// and why. Ingress bytes for a psock being torn down are dropped silently,
// as sk_psock_queue_msg does.
func (o *pendingOut) flush(flags int) (unsent int, err syscall.Errno) {
	t := o.target
	if t == nil || (len(o.buf) == 0 && len(o.owned) == 0) {
		o.target = nil
		return 0, 0
	}
	b := o.buf
	if o.ingress {
		owned, pg := o.owned, o.ownedPg
		o.owned, o.ownedPg = nil, nil
		tp := t.psock.Load()
		switch {
		case tp == nil || !tp.txEnabled.Load() || t.conn == nil:
			if pg != nil {
				pg.put()
			}
		case pg != nil:
			if t.conn.Raw().InjectRelease(owned, pg) == nil { // releases pg even on failure
				t.ledger.add(len(owned), false)
			}
		default:
			if t.conn.Raw().InjectOwned(owned) == nil {
				t.ledger.add(len(owned), false)
			}
		}
	} else if t.conn == nil {
		unsent, err = len(b), errno.EPIPE
	} else if o.more && !o.complete {
		// Held in the target's TCP write queue (MSG_MORE). When an
		// earlier push of the batch went out without MSG_MORE, the
		// ACK for it releases the tail, so only an all-MSG_MORE batch
		// stays queued.
		t.holdBytes(b)
	} else {
		// Held bytes go first; heldMu keeps the probe timer's flush
		// from overtaking or interleaving with this push.
		t.heldMu.Lock()
		if h := t.takeHeldLocked(); h != nil {
			b = append(h, b...)
		}
		w, e := t.conn.Raw().SendTCP(b, flags&(netstack.MSG_DONTWAIT|netstack.MSG_MORE))
		t.heldMu.Unlock()
		switch {
		case e != nil:
			unsent, err = len(b)-w, errnoOf(e)
		case w < len(b):
			// A short non-blocking send: the kernel's push retries and
			// then fails with EAGAIN for the rest.
			unsent, err = len(b)-w, errno.EAGAIN
		}
	}
	o.more, o.complete = false, false
	o.buf = o.buf[:0]
	if cap(o.buf) > 1<<20 {
		o.buf = nil
	}
	o.target = nil
	return unsent, err
}

// heldProbeDelay is when TCP sends bytes a MSG_MORE push left queued
// with nothing in flight: the zero-window probe timer armed by the push
// that could not send fires after the minimum RTO (TCP_RTO_MIN, 200 ms)
// and tcp_write_wakeup sends them (recorded on 6.18: a redirected piece
// held this way reaches the peer about 200 ms later with no further
// send). Until then a reader sees nothing, as on the kernel; after it no
// accepted byte stays behind. It runs on the network's clock, as TCP's own
// timers do: with the default virtual clock it fires after that long with
// the link silent while the application waits for the network (or at the
// clock's cap), not because a step between two sends took long on a
// loaded machine (apply_redirect's capture then had the held piece as a
// segment of its own in 1 of 19 runs under -race beside CPU hogs).
const heldProbeDelay = 200 * time.Millisecond

// holdBytes leaves b in the socket's TCP write queue after what is held
// already, and arms the probe timer.
func (s *Socket) holdBytes(b []byte) {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	s.held = append(s.held, b...)
	if s.heldTimer == nil {
		s.heldTimer = s.rt.net.Clock().AfterFunc(heldProbeDelay, s.flushHeld)
	}
}

// takeHeldLocked returns and clears the held bytes and stops the probe
// timer; heldMu is held.
func (s *Socket) takeHeldLocked() []byte {
	if s.heldTimer != nil {
		s.heldTimer.Stop()
		s.heldTimer = nil
	}
	h := s.held
	s.held = nil
	return h
}

// takeHeld returns and clears the bytes a MSG_MORE push left in the
// socket's TCP write queue.
func (s *Socket) takeHeld() []byte {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	return s.takeHeldLocked()
}

// flushHeld sends the held bytes (a push without MSG_MORE, close, or the
// probe timer).
func (s *Socket) flushHeld() {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	if h := s.takeHeldLocked(); h != nil && s.conn != nil {
		s.conn.Raw().SendTCP(h, 0)
	}
}
