package netstack

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// tracked is a TCP endpoint the idle check looks at.
type tracked struct {
	ep        tcpip.Endpoint
	conn      *Conn
	ln        *Listener
	key       flowKey
	appClosed atomic.Bool
	// dirty: something happened to the endpoint (a frame of its flow, an
	// application send or close) since the idle check last found it
	// idle. Only dirty endpoints are looked at, so a check costs little
	// however many idle connections the network holds.
	dirty atomic.Bool
}

// markDirty flags the connection whose own view of its 4-tuple is k.
func (n *Network) markDirty(k flowKey) {
	if t, ok := n.byKeyFast.Load(k); ok {
		t.(*tracked).dirty.Store(true)
	}
}

// fullScanEvery: every so many idle checks look at every endpoint, dirty
// or not (cleanup of endpoints that finished on a timer, and a safety net).
const fullScanEvery = 256

func (n *Network) track(t *tracked) {
	if t.conn != nil {
		t.conn.tr = t
	}
	t.dirty.Store(true)
	n.trackMu.Lock()
	n.tracked[t] = struct{}{}
	if t.conn != nil && t.key != (flowKey{}) {
		n.byKey[t.key] = t
		n.byKeyFast.Store(t.key, t)
	}
	n.trackMu.Unlock()
}

// keyed records t's 4-tuple once the connection has one.
func (n *Network) keyed(t *tracked) {
	n.trackMu.Lock()
	n.byKey[t.key] = t
	n.byKeyFast.Store(t.key, t)
	n.trackMu.Unlock()
	t.dirty.Store(true)
}

// Busy marks one unit of runtime work in progress (a queued redirect, a
// backlog being drained...). WaitIdle does not return while any is
// outstanding. Every Busy needs exactly one Done.
func (n *Network) Busy() { n.busy.Add(1) }

// AddIdleCheck registers a callback that WaitIdle consults: while busy
// returns a non-empty reason, the network is not idle. It runs often and
// must be quick; it must not call back into the Network.
func (n *Network) AddIdleCheck(busy func() string) {
	n.trackMu.Lock()
	n.idleChecks = append(n.idleChecks, busy)
	n.trackMu.Unlock()
}

// Done ends one unit of work started with Busy.
func (n *Network) Done() { n.done() }

func (n *Network) done() {
	if n.busy.Add(-1) < 0 {
		panic("netstack: Network.Done called more often than Busy")
	}
	n.activity.Add(1)
}

// settle is how long the network must look idle, with nothing moving,
// before WaitIdle believes it: it covers the gap between a frame being
// queued to a stack and a stack goroutine processing it. The idle check
// sees segments waiting in an endpoint's queue; settle is the safety margin
// for work it cannot see, sized for a loaded machine.
const settle = 2 * time.Millisecond

// WaitIdle blocks until nothing is in flight on the network: no frame held
// by a fault, every TCP sequence number sent acknowledged (SYN and FIN
// included) unless the data waits behind a peer's zero window, every
// completed handshake taken by its listener and passed through
// OnEstablished, no recv hook call pending and no Busy work outstanding.
// It returns ctx's error if ctx ends first. Timers that send nothing new
// (TIME_WAIT, keepalive, zero-window probes) do not count.
func (n *Network) WaitIdle(ctx context.Context) error {
	poll := 20 * time.Microsecond
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	sleep := func(d time.Duration) error {
		if t == nil {
			t = time.NewTimer(d)
		} else {
			t.Reset(d)
		}
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return n.notIdleError(err)
		}
		a := n.activity.Load()
		if n.IdleNow() {
			if err := sleep(settle); err != nil {
				return n.notIdleError(err)
			}
			if n.activity.Load() == a && n.IdleNow() {
				return nil
			}
			poll = 20 * time.Microsecond
			continue
		}
		// Only this wait counts as waiting for the network (the time in
		// which a VirtualClock's timers may fire): something is busy that
		// may need a timer to move on. The settle wait above confirms
		// idleness; counting it would let a slow machine's many waits
		// add up to a cork or probe timer between two steps.
		done := n.waiting()
		err := sleep(poll)
		done()
		if err != nil {
			return n.notIdleError(err)
		}
		if poll < time.Millisecond {
			poll *= 2
		}
	}
}

// WaitIdleTimeout is WaitIdle with a timeout.
func (n *Network) WaitIdleTimeout(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return n.WaitIdle(ctx)
}

// notIdleError wraps ctx's error with what was still busy, so a scenario
// that never settles says why.
func (n *Network) notIdleError(err error) error {
	return fmt.Errorf("netstack: network not idle (%s): %w", n.BusyReason(), err)
}

// BusyReason describes what keeps the network from being idle, or returns
// "idle".
func (n *Network) BusyReason() string {
	var why []string
	if b := n.busy.Load(); b > 0 {
		why = append(why, fmt.Sprintf("%d hook calls or runtime work items pending", b))
	}
	if h := n.link.held.Load(); h > 0 {
		why = append(why, fmt.Sprintf("%d frames held by faults", h))
	}
	if h := n.link.pendingHandshakes(); h > 0 {
		why = append(why, fmt.Sprintf("%d handshakes not yet accepted", h))
	}
	n.trackMu.Lock()
	for _, f := range n.idleChecks {
		if r := f(); r != "" {
			why = append(why, r)
		}
	}
	for t := range n.tracked {
		if busy, _ := n.endpointBusy(t); busy && len(why) < 8 {
			if t.ln != nil {
				why = append(why, fmt.Sprintf("listener %s has connections to accept", t.ln.addr))
				continue
			}
			used, _ := sendQueued(t.ep)
			segs := ""
			if q, _ := segmentsQueued(t.ep); q {
				segs = ", received segments not yet processed"
			}
			why = append(why, fmt.Sprintf("connection %s:%d->%s:%d in %v with %d bytes unacknowledged or unsent%s",
				t.key.local, t.key.localPort, t.key.remote, t.key.remotePort, stateOf(t.ep.State()), used, segs))
		}
	}
	n.trackMu.Unlock()
	if len(why) == 0 {
		return "idle"
	}
	return strings.Join(why, "; ")
}

// IdleNow reports whether the network is idle at this instant (see
// WaitIdle), without waiting for it to stay so.
func (n *Network) IdleNow() bool {
	if n.busy.Load() > 0 || n.link.held.Load() > 0 || n.link.delivering.Load() > 0 {
		return false
	}
	if n.link.pendingHandshakes() > 0 {
		return false
	}
	n.trackMu.Lock()
	defer n.trackMu.Unlock()
	for _, f := range n.idleChecks {
		if f() != "" {
			return false
		}
	}
	if !n.resetsHandledLocked() {
		return false
	}
	// Whatever was busy last time is likely still busy: look there first
	// so polling a network of many connections stays cheap.
	if t := n.lastBusy; t != nil {
		if _, ok := n.tracked[t]; ok {
			if busy, _ := n.endpointBusy(t); busy {
				return false
			}
		}
		n.lastBusy = nil
	}
	n.idleChecksRun++
	full := n.idleChecksRun%fullScanEvery == 0
	for t := range n.tracked {
		// Cleared before the look, so a frame that arrives meanwhile
		// marks it again.
		if !t.dirty.Swap(false) && !full {
			continue
		}
		busy, gone := n.endpointBusy(t)
		if busy {
			t.dirty.Store(true)
			n.lastBusy = t
			return false
		}
		if gone {
			delete(n.tracked, t)
			if t.conn != nil {
				n.link.peerZeroWin.Delete(t.key)
				if n.byKey[t.key] == t {
					delete(n.byKey, t.key)
					n.byKeyFast.Delete(t.key)
				}
				// The flow's sequence counters go with the last of its
				// two ends.
				if _, peer := n.byKey[t.key.reverse()]; !peer {
					n.link.seq.forget(t.key)
				}
			}
		}
	}
	return true
}

// resetsHandledLocked reports whether every RST that crossed the link has
// been processed by the connection it was meant for (that endpoint left
// its connected states); RSTs for unknown connections are forgotten.
func (n *Network) resetsHandledLocked() bool {
	ks := n.link.takeResets()
	if len(ks) == 0 {
		return true
	}
	var pending []flowKey
	for _, k := range ks {
		t := n.byKey[k]
		if t == nil || t.conn == nil {
			continue
		}
		switch tcp.EndpointState(t.ep.State()) {
		case tcp.StateClose, tcp.StateError, tcp.StateTimeWait, tcp.StateInitial, tcp.StateBound:
			t.conn.checkTCPDone()
		default:
			pending = append(pending, k)
		}
	}
	if len(pending) == 0 {
		return true
	}
	n.link.putResets(pending)
	return false
}

// endpointBusy says whether t still has work in flight, and whether it is
// finished and need not be tracked any more.
func (n *Network) endpointBusy(t *tracked) (busy, gone bool) {
	if t.ln != nil {
		if t.appClosed.Load() {
			return false, true
		}
		return t.ep.Readiness(waiter.ReadableEvents) != 0, false
	}
	st := tcp.EndpointState(t.ep.State())
	if st != tcp.StateClose && st != tcp.StateError {
		if q, _ := segmentsQueued(t.ep); q {
			return true, false
		}
	}
	if st == tcp.StateTimeWait || st == tcp.StateClose || st == tcp.StateError {
		if c := t.conn; c != nil && !c.tcpDone.Load() {
			c.checkTCPDone() // marks busy itself if it fires
		}
	}
	// Data waits without being in flight behind a zero window, or behind a
	// peer that drops in-window segments for lack of buffer
	// (rcvbuf_full_unsafe.go): only the peer's reader can move either.
	stuck := n.link.zeroWindow(t.key) || n.peerRefusing(t.key)
	switch st {
	case tcp.StateConnecting, tcp.StateSynSent, tcp.StateSynRecv:
		return true, false
	case tcp.StateFinWait1, tcp.StateClosing, tcp.StateLastAck:
		return !stuck, false
	case tcp.StateTimeWait, tcp.StateClose, tcp.StateError, tcp.StateFinWait2, tcp.StateInitial, tcp.StateBound:
		if t.appClosed.Load() {
			return false, true
		}
	}
	if used, ok := sendQueued(t.ep); ok && used > 0 && !stuck {
		return true, false
	}
	return false, false
}
