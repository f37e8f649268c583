package netstack

import (
	"gvisor.dev/gvisor/pkg/waiter"
)

// SendHook replaces TCP on a Conn's application send path (see
// RawConn.SetSendHook). It returns the number of bytes consumed from iov and
// an error, with write(2) semantics: a partial count with a nil error is a
// short write. The hook must not keep iov or its slices after returning.
type SendHook func(c *Conn, iov [][]byte, flags int) (int, error)

// RecvHook is called after bytes, a FIN or an RST arrive on a Conn whose
// receive side the runtime owns (see RawConn.SetRecvHook).
type RecvHook func(c *Conn)

// SetSendHook makes every application write (Write, SendMsg) call fn
// instead of TCP; nil restores plain TCP. fn runs on the writer's
// goroutine; application writes on one Conn are serialized, so fn never
// runs concurrently with itself for the same Conn. fn typically calls
// c.Raw().SendTCP (PASS), other.Raw().SendTCP (egress redirect),
// other.Raw().Inject (ingress redirect), or returns an error (DROP: EACCES).
func (r *RawConn) SetSendHook(fn SendHook) {
	c := r.c
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
func (r *RawConn) SetRecvHook(fn RecvHook) {
	c := r.c
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

// SetConsumeHook registers fn to run on the reader's goroutine after each
// application read that consumed bytes (from the ingress queue or TCP), so
// the runtime can resume deliveries that waited for room. nil removes it.
func (r *RawConn) SetConsumeHook(fn func(c *Conn)) {
	c := r.c
	if fn == nil {
		c.consumeHook.Store(nil)
		return
	}
	c.consumeHook.Store(&fn)
}

// SetWriteSpaceHook registers fn to run when TCP freed room in the Conn's
// send buffer (the kernel's sk_write_space: gVisor reports it when the
// buffer falls below half full, as sock_writeable tests), so the runtime
// can resume egress deliveries that waited for it. fn runs inside gVisor
// with the endpoint's lock held: it must not call into this Conn's
// endpoint (KickRecv on any Conn is fine). nil removes it.
func (r *RawConn) SetWriteSpaceHook(fn func(c *Conn)) {
	c := r.c
	if fn == nil {
		c.writeSpaceHook.Store(nil)
		return
	}
	c.writeSpaceHook.Store(&fn)
}

// KickRecv asks for one more call of the recv hook even if nothing new
// arrived (for example after the hook stopped early, or when the runtime's
// own state changed).
func (r *RawConn) KickRecv() { r.c.scheduleRecv() }

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
