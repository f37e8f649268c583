package runtime

import (
	"math"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/netstack"
)

// listenerSend is sendmsg(2) on a listening socket. TCP refuses it with
// EPIPE (sk_stream_wait_connect: not connecting). On the current kernel
// build that holds for a listener in a sockmap too: the sk_msg program
// does not run. The earlier build (KernelBuild.ListenerSendRunsMsg) ran
// the psock's sk_msg program over the data first; its verdict changed
// nothing.
func (s *Socket) listenerSend(iov [][]byte) (int, error) {
	if !s.rt.opts.Kernel.ListenerSendRunsMsg {
		return 0, errno.EPIPE
	}
	p := s.psock.Load()
	if p == nil {
		return 0, errno.EPIPE
	}
	prog := p.progs.msg.Load()
	if prog == nil {
		return 0, errno.EPIPE
	}
	m := newMsg()
	m.init()
	m.fill(iov, 0, math.MaxInt)
	m.computeDataPointers()
	s.rt.runMu.Lock()
	_, _ = s.rt.runMsgProg(prog, s, m)
	s.rt.runMu.Unlock()
	m.release()
	return 0, errno.EPIPE
}

// listenerRecv is recvmsg(2) on a listening (or shut down listening)
// socket.
func (s *Socket) listenerRecv() (int, error) {
	if s.psock.Load() != nil {
		return 0, errno.EAGAIN
	}
	return 0, errno.ENOTCONN
}

// listenerShutdown is shutdown(2) on a listening socket (inet_shutdown):
// shutting down reading disconnects it, which stops the listen.
func (s *Socket) listenerShutdown(how int) error {
	if how == netstack.SHUT_WR || s.lnShut.Load() {
		return nil
	}
	s.lnShut.Store(true)
	if err := s.ln.Close(); err != nil {
		return sockErr(err)
	}
	return nil
}
