package runtime

import (
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"
)

// This file is what a FIN does when a verdict-only receive program
// redirects it (the FIN arrives as an empty skb and runs the verdict; a
// stream parser never sees it). The psock backlog worker hands the empty
// skb to the target: to its ingress queue or out through its sendmsg.
// Either way the worker gets 0 bytes moved, which it takes for a hard
// error: it reports EPIPE on the target socket (sk_err) and disables the
// target psock's TX, so everything later redirected to it, or passed to
// itself by its own verdict, is dropped. Recorded on 6.18:
//
//   - ingress: the target reads end of stream for good (the empty message
//     in its ingress queue reads as EOF, before the error); its next send
//     fails with EPIPE, the ones after succeed;
//   - egress: nothing reaches the target's peer; the target's next read,
//     or send, fails with EPIPE once.

// queueRedirectedFIN queues the FIN for target behind what is pending.
func (p *psock) queueRedirectedFIN(target *Socket, ingress bool) {
	rx := &p.rx
	if len(rx.pending) == 0 {
		target.redirectedFIN(ingress)
		return
	}
	rx.hold(p.sk, rxOut{target: target, ingress: ingress, fin: true})
}

// redirectedFIN is the FIN reaching s.
func (s *Socket) redirectedFIN(ingress bool) {
	tp := s.psock.Load()
	if tp == nil || !tp.txEnabled.Load() || s.conn == nil || s.closed.Load() {
		return // dropped, as any redirect to a gone target
	}
	if ingress {
		s.conn.Raw().CloseIngress(nil)
	}
	tp.txEnabled.Store(false)
	s.softErr.Store(int32(errno.EPIPE))
	s.conn.Raw().WakeReaders()
	s.roomChanged() // held deliveries to s are dropped now
}

// takeSoftErr returns and clears the pending socket error (sock_error).
func (s *Socket) takeSoftErr() syscall.Errno {
	return syscall.Errno(s.softErr.Swap(0))
}
