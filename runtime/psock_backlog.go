package runtime

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// This file is when the psock backlog retries a delivery that found no
// room (sk_psock_backlog getting -EAGAIN from sk_psock_handle_skb): the
// target's ingress queue over its receive buffer (sk_psock_skb_ingress),
// or its send buffer not writable (sock_writeable before skb_send_sock).
//
// The kernel re-runs the worker a jiffy later, and again, until the room is
// there; its write_space callback (sk_psock_write_space) also schedules it
// at once. skmsg retries on the events that make room instead, so a held
// delivery neither waits for a clock nor keeps the network busy while
// nothing can move (WaitIdle then sees the pipeline idle, and a blocked
// sender gets its send timeout):
//
//   - an application read that consumed bytes of the target (its ingress
//     queue shrank; netstack's consume hook);
//   - TCP freeing the target's send buffer (netstack's write-space hook,
//     sk_write_space);
//   - the target's SO_RCVBUF or SO_SNDBUF changed;
//   - the target going away (closed, its psock dropped or its TX disabled):
//     the retry then drops the bytes, as the kernel frees the skb.
//
// A failed attempt takes the target's room generation before it looks and
// registers as a waiter after: an event in between changed the generation
// and the retry is scheduled at once, so no wake-up is lost.
//
// The network is idle with deliveries held only while none of them can
// go: a held delivery whose target has room now (a read just took from
// its ingress queue, its retry not run yet), or whose target is gone, or
// that was woken and has not retried, keeps WaitIdle waiting (heldBusy).
//
// An egress redirect can fail on a socket other than its target: the
// target's own sk_msg program may redirect the bytes on, and that socket's
// buffer is the full one. Egress waiters therefore also wake on write space
// freed anywhere in the runtime.

// roomWait is a socket's list of psock owners waiting for room in it.
type roomWait struct {
	gen     atomic.Uint64 // bumped by every event that may have made room
	n       atomic.Int32  // len(waiters), for a lock-free empty check
	mu      sync.Mutex
	waiters []*Socket
}

// add registers w (once) to be kicked at the next room event.
func (r *roomWait) add(w *Socket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.waiters {
		if x == w {
			return
		}
	}
	r.waiters = append(r.waiters, w)
	r.n.Store(int32(len(r.waiters)))
}

// wake bumps the generation and kicks every waiter's receive side, which
// retries its held deliveries. It takes no lock a waiter's receive side
// holds while registering, and calls nothing that blocks.
func (r *roomWait) wake() {
	r.gen.Add(1)
	if r.n.Load() == 0 {
		return
	}
	r.mu.Lock()
	ws := r.waiters
	r.waiters = nil
	r.n.Store(0)
	r.mu.Unlock()
	for _, w := range ws {
		if p := w.psock.Load(); p != nil {
			p.rx.woken.Store(true)
		}
		if w.conn != nil {
			w.conn.Raw().KickRecv()
		}
	}
}

// roomChanged is called after something may have made room in s (see the
// list above).
func (s *Socket) roomChanged() { s.room.wake() }

// writeSpace is s's sk_write_space: TCP freed send buffer room.
func (s *Socket) writeSpace() {
	s.room.wake()
	s.rt.egressRoom.wake()
}

// roomMark is the room generations a delivery attempt saw before it
// looked.
type roomMark struct{ target, egress uint64 }

func (s *Socket) markRoom() roomMark {
	return roomMark{target: s.room.gen.Load(), egress: s.rt.egressRoom.gen.Load()}
}

// waitRoom registers p's socket as waiting for room in target after a
// delivery marked m found none; if room may have appeared since m, the
// receive side runs again right away.
func (p *psock) waitRoom(target *Socket, ingress bool, m roomMark) {
	p.rx.woken.Store(false)
	p.rx.blocked.Store(&heldOn{target: target, ingress: ingress})
	p.sk.rt.held.add(p)
	target.room.add(p.sk)
	changed := target.room.gen.Load() != m.target
	if !ingress {
		p.sk.rt.egressRoom.add(p.sk)
		changed = changed || p.sk.rt.egressRoom.gen.Load() != m.egress
	}
	if changed && p.sk.conn != nil {
		p.sk.conn.Raw().KickRecv()
	}
}

// heldOn is what a psock's first held delivery waits for.
type heldOn struct {
	target  *Socket
	ingress bool
}

// heldSet is the psocks with held deliveries, for the idle check.
type heldSet struct {
	mu sync.Mutex
	m  map[*psock]struct{}
}

func (h *heldSet) add(p *psock) {
	h.mu.Lock()
	if h.m == nil {
		h.m = map[*psock]struct{}{}
	}
	h.m[p] = struct{}{}
	h.mu.Unlock()
}

// unheld is called when p holds nothing any more (all delivered, or its
// receive side stopped).
func (p *psock) unheld() {
	if p.rx.blocked.Swap(nil) == nil {
		return
	}
	h := &p.sk.rt.held
	h.mu.Lock()
	delete(h.m, p)
	h.mu.Unlock()
}

// canGo reports whether target could take a held delivery now, or is
// gone (the retry then drops it).
func (o *heldOn) canGo() bool {
	t := o.target
	tp := t.psock.Load()
	if tp == nil || !tp.txEnabled.Load() || t.conn == nil || t.closed.Load() {
		return true
	}
	return o.ingress && !t.ingressFull()
}

// heldBusy is the runtime's idle check: it names a psock whose held
// deliveries can move now, or returns "".
func (rt *Runtime) heldBusy() string {
	h := &rt.held
	h.mu.Lock()
	defer h.mu.Unlock()
	for p := range h.m {
		o := p.rx.blocked.Load()
		if o == nil {
			continue
		}
		if p.rx.woken.Load() || o.canGo() {
			return fmt.Sprintf("%v has deliveries for %v that can go now", p.sk, o.target)
		}
	}
	return ""
}
