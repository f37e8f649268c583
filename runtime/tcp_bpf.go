package runtime

import (
	"syscall"

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
		return c.SendTCPv(iov, flags)
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
			if e := s.tcpPush(s, m, tosend, flags); e != 0 {
				*copied -= int(m.free())
				ret = e
				break
			}
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
			s.mu.Unlock()
			e := s.sendmsgRedir(target, ingress, m, tosend, flags)
			s.mu.Lock()
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
			return syscall.EACCES
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

// tcpPush sends the first n bytes of m on target's TCP (tcp_bpf_push),
// consuming them from m.
func (s *Socket) tcpPush(target *Socket, m *Msg, n uint32, flags int) syscall.Errno {
	c := target.conn
	if c == nil {
		return syscall.EPIPE
	}
	for n > 0 && m.n > 0 {
		e := &m.sg[0]
		size := e.length
		if n < size {
			size = n
		}
		w, err := c.SendTCP(e.pg.b[e.offset:e.offset+size], flags&(syscall.MSG_DONTWAIT|syscall.MSG_MORE))
		if w > 0 {
			m.consume(uint32(w))
			n -= uint32(w)
		}
		if err != nil {
			return errnoOf(err)
		}
		if w == 0 {
			return syscall.EAGAIN
		}
	}
	return 0
}

// sendmsgRedir is tcp_bpf_sendmsg_redir: deliver up to n bytes of m to
// target's egress (its TCP, without running its msg program) or to its
// ingress queue.
func (s *Socket) sendmsgRedir(target *Socket, ingress bool, m *Msg, n uint32, flags int) syscall.Errno {
	if target == nil {
		return syscall.EPIPE
	}
	tp := target.psock.Load()
	if tp == nil || !tp.get() {
		return syscall.EPIPE
	}
	defer tp.put()
	if ingress {
		return target.bpfIngress(tp, m, n)
	}
	return s.tcpPush(target, m, n, flags)
}

// bpfIngress is bpf_tcp_ingress: move n bytes of m onto target's
// ingress_msg queue and wake its readers. A psock being torn down drops
// the bytes silently.
func (target *Socket) bpfIngress(tp *psock, m *Msg, n uint32) syscall.Errno {
	if n > m.size {
		n = m.size
	}
	if n == 0 {
		return 0
	}
	buf := make([]byte, 0, n)
	left := n
	for i := 0; i < m.n && left > 0; i++ {
		e := &m.sg[i]
		take := e.length
		if left < take {
			take = left
		}
		buf = append(buf, e.pg.b[e.offset:e.offset+take]...)
		left -= take
	}
	m.consume(n)
	if !tp.txEnabled.Load() || target.conn == nil {
		return 0
	}
	if err := target.conn.InjectOwned(buf); err != nil {
		return 0
	}
	return 0
}
