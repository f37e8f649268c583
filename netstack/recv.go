package netstack

import (
	"net"

	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/skmsg/skmsg/internal/errno"
)

// Read implements net.Conn: the ingress queue first, then TCP data (unless
// a recv hook owns TCP data). io.EOF at end of stream.
func (c *Conn) Read(b []byte) (int, error) { return c.RecvMsg(b, 0) }

// RecvMsg is recv(2): flags may hold MSG_DONTWAIT (EAGAIN instead of
// blocking), MSG_PEEK and MSG_WAITALL. A zero-length b returns 0 at once.
func (c *Conn) RecvMsg(b []byte, flags int) (int, error) {
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
		if busy || c.raw.TCPQueued() > 0 {
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
func (r *RawConn) RecvTCP(b []byte) (int, error) { return r.c.recvTCP(b, false) }

// PeekTCP is RecvTCP without consuming.
func (r *RawConn) PeekTCP(b []byte) (int, error) { return r.c.recvTCP(b, true) }

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
func (r *RawConn) TCPQueued() int {
	c := r.c
	v, err := c.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption)
	if err != nil {
		return 0
	}
	return v
}

// Readable is FIONREAD as the application sees it: ingress bytes, plus TCP
// bytes when no recv hook owns them.
func (r *RawConn) Readable() int {
	c := r.c
	n := c.raw.IngressLen()
	if c.recvHook.Load() == nil {
		n += c.raw.TCPQueued()
	}
	return n
}
