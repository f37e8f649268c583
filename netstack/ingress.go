package netstack

import (
	"io"

	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/skmsg/skmsg/internal/errno"
)

// Inject appends b (copied) to the Conn's ingress queue, which application
// reads consume before any TCP data, and wakes blocked readers. It never
// blocks and never fails on an open Conn; after Close it returns EPIPE.
// After CloseIngress (shutdown(SHUT_RD)) it still queues: the kernel's
// psock keeps taking ingress messages, and reads return them before EOF.
func (r *RawConn) Inject(b []byte) error {
	c := r.c
	if len(b) == 0 {
		return nil
	}
	buf := make([]byte, len(b))
	copy(buf, b)
	return c.raw.InjectOwned(buf)
}

// InjectOwned is Inject without the copy: the Conn takes b over.
func (r *RawConn) InjectOwned(b []byte) error { return r.InjectRelease(b, nil) }

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
func (r *RawConn) InjectRelease(b []byte, rel Releaser) error {
	c := r.c
	c.ingMu.Lock()
	if len(b) == 0 || c.closed.Load() {
		if rel != nil {
			rel.Release()
		}
		c.ingMu.Unlock()
		if len(b) == 0 {
			return nil
		}
		return c.opErr("inject", errno.EPIPE)
	}
	c.ing = append(c.ing, ingBuf{b, rel})
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
func (r *RawConn) CloseIngress(err error) {
	c := r.c
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
func (r *RawConn) IngressLen() int {
	c := r.c
	c.ingMu.Lock()
	defer c.ingMu.Unlock()
	return c.ingLen
}

// WakeReaders wakes application readers blocked on the Conn so they
// re-check their condition.
func (r *RawConn) WakeReaders() { r.c.appq.Notify(waiter.ReadableEvents) }

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
