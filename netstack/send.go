package netstack

import (
	"io"
	"net"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/skmsg/skmsg/internal/errno"
)

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
	return c.raw.SendTCP(b, 0)
}

// SendMsg is sendmsg(2) with an iovec: flags may hold MSG_DONTWAIT
// (partial write or EAGAIN instead of blocking) and MSG_MORE. It goes
// through the send hook when one is set.
func (c *Conn) SendMsg(iov [][]byte, flags int) (int, error) {
	if h := c.sendHook.Load(); h != nil {
		c.wrMu.Lock()
		n, err := (*h)(c, iov, flags)
		c.wrMu.Unlock()
		return n, err
	}
	return c.raw.SendTCPv(iov, flags)
}

// SendTCP is the raw tcp_sendmsg, for the send hook's PASS and for
// redirects from other sockets: it bypasses the send hook. Without
// MSG_DONTWAIT it blocks until all of b is queued (or an error or deadline
// ends it, returning the count queued so far); with MSG_DONTWAIT it queues
// what fits and returns that count, or EAGAIN if nothing fits. EPIPE after
// shutdown(SHUT_WR) or close.
func (r *RawConn) SendTCP(b []byte, flags int) (int, error) {
	c := r.c
	c.sndMu.Lock()
	defer c.sndMu.Unlock()
	c.sndIov[0] = b
	n, err := c.sendLocked(c.sndIov[:], flags)
	c.sndIov[0] = nil
	return n, err
}

// SendTCPv is SendTCP for an iovec.
func (r *RawConn) SendTCPv(iov [][]byte, flags int) (int, error) {
	c := r.c
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
	epoch := c.net.sendTimeouts.Load()
	total := 0
	registered := false
	defer func() {
		if registered {
			c.wrq.EventUnregister(&c.wrEntry)
		}
	}()
	for {
		c.markDirty()
		n, terr := c.ep.Write(&c.sndRd, opts)
		c.markDirty() // queued bytes (held by Nagle or a window) count
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
		if c.net.sendTimeouts.Load() != epoch {
			// Network.TimeOutBlockedSends: as when SO_SNDTIMEO runs
			// out, the count queued so far, or EAGAIN if none.
			if total > 0 {
				return total, nil
			}
			return 0, c.opErr("write", errno.EAGAIN)
		}
		c.net.sendsBlocked.Add(1)
		err := c.block(c.wrCh, &c.wrDeadline)
		c.net.sendsBlocked.Add(-1)
		if err != nil {
			if total > 0 {
				return total, c.opErr("write", err)
			}
			return 0, c.opErr("write", err)
		}
	}
}

// SendsBlocked is how many blocking sends wait for send-buffer space right
// now, on any Conn of the network (application writes and the runtime's
// redirects alike).
func (n *Network) SendsBlocked() int { return int(n.sendsBlocked.Load()) }

// TimeOutBlockedSends ends every blocking send waiting for space now, as
// an expired SO_SNDTIMEO would: each returns the count it queued, or
// EAGAIN if none. Sends that start afterwards block as usual. The scenario
// runner calls it once the pipeline is idle with a send still blocked: no
// byte can move any more, and the kernel's send timeout would end the
// sendmsg the same way.
func (n *Network) TimeOutBlockedSends() {
	n.sendTimeouts.Add(1)
	n.trackMu.Lock()
	conns := make([]*Conn, 0, len(n.tracked))
	for t := range n.tracked {
		if t.conn != nil {
			conns = append(conns, t.conn)
		}
	}
	n.trackMu.Unlock()
	for _, c := range conns {
		c.wrq.Notify(waiter.WritableEvents)
	}
}

// Writable reports whether a MSG_DONTWAIT send could queue something now
// (poll's POLLOUT; gVisor reports it once half the send buffer is free).
func (r *RawConn) Writable() bool {
	c := r.c
	return c.ep.Readiness(waiter.WritableEvents)&waiter.WritableEvents != 0
}

// block waits for ch, the deadline in dl, or Close.
func (c *Conn) block(ch chan struct{}, dl *atomic.Int64) error {
	defer c.net.waiting()()
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
