package netstack

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// This file puts the two ends of a handshake in the kernel's order. On
// Linux a connect() over loopback runs, in one thread: the connecting
// socket's SYN-time work, the listener's handling of the SYN, the
// connecting socket's move to ESTABLISHED (before its ACK leaves), and the
// child's move to ESTABLISHED when that ACK arrives; connect() returns
// after all of it. gVisor runs the two ends on goroutines of their own, so
// Dial enforces the same sequence: OnConnect, then OnSynRecv, then the
// SYN; the connecting side's frames after the SYN (its handshake ACK) are
// held on the link until OnEstablished(active) has run; and Dial returns
// only once the accepting side's OnEstablished has run too.

// acceptWait bounds how long Dial waits for the accepting side of its
// connection after its own side is established. The accept loop takes a
// completed handshake at once, so the wait only runs out when the ACK was
// lost (a fault) and the listener's SYN-ACK retransmission has not yet
// completed it, or when the listener went away; Dial then returns as
// connect() does, with the other end still pending.
const acceptWait = 3 * time.Second

// heldFlow queues the frames a connecting socket sends after its SYN until
// its ESTABLISHED hook has run.
type heldFlow struct {
	frames []heldFrame
	// draining is set while release sends the queue: frames that arrive
	// meanwhile join its end, so they cannot overtake it.
	draining bool
}

type heldFrame struct {
	src *Host
	pkt *stack.PacketBuffer
}

// handshakeOrder is the Network's bookkeeping for ordered handshakes.
type handshakeOrder struct {
	mu sync.Mutex
	// nholds counts armed holds, so transmit looks them up only then.
	nholds atomic.Int32
	// holds is keyed by the accepting side's view of the flow.
	holds map[flowKey]*heldFlow
	// accepted has a channel per dialled flow (accepting side's view) that
	// the accept loop closes once OnEstablished(passive) has run.
	accepted map[flowKey]chan struct{}
	// listeners maps a listening address to its Listener (OnSynRecv).
	listeners map[listenKey]*Listener
}

func (o *handshakeOrder) init() {
	o.holds = make(map[flowKey]*heldFlow)
	o.accepted = make(map[flowKey]chan struct{})
	o.listeners = make(map[listenKey]*Listener)
}

func (n *Network) addListener(k listenKey, l *Listener, add bool) {
	o := &n.hs
	o.mu.Lock()
	defer o.mu.Unlock()
	if add {
		o.listeners[k] = l
	} else if o.listeners[k] == l {
		delete(o.listeners, k)
	}
}

// listenerAt is the Listener a SYN to ra reaches, if any.
func (n *Network) listenerAt(ra netip.AddrPort) *Listener {
	o := &n.hs
	o.mu.Lock()
	defer o.mu.Unlock()
	if l := o.listeners[listenKey{tcpip.AddrFromSlice(ra.Addr().AsSlice()), ra.Port()}]; l != nil {
		return l
	}
	return nil
}

// beginHandshake arms the hold and the accept wait for a flow Dial is
// about to start. The returned channel is closed once the accepting side
// has run OnEstablished.
func (n *Network) beginHandshake(k flowKey) chan struct{} {
	o := &n.hs
	ch := make(chan struct{})
	o.mu.Lock()
	o.holds[k] = &heldFlow{}
	o.accepted[k] = ch
	o.nholds.Add(1)
	o.mu.Unlock()
	// The held frames are in flight: the network is not idle meanwhile.
	n.busy.Add(1)
	return ch
}

// holdFrame queues a frame of a held flow; it reports false when the flow
// is not held (the frame goes out now). Called from transmit with the
// frame's addresses; SYNs always pass.
func (n *Network) holdFrame(src *Host, pkt *stack.PacketBuffer, k flowKey) bool {
	o := &n.hs
	o.mu.Lock()
	defer o.mu.Unlock()
	h := o.holds[k]
	if h == nil {
		return false
	}
	h.frames = append(h.frames, heldFrame{src: src, pkt: pkt.IncRef()})
	return true
}

// releaseHandshake sends the frames held for k, in order, and stops
// holding. Frames sent meanwhile queue behind them.
func (n *Network) releaseHandshake(k flowKey) {
	o := &n.hs
	o.mu.Lock()
	h := o.holds[k]
	if h == nil || h.draining {
		o.mu.Unlock()
		return
	}
	h.draining = true
	for {
		if len(h.frames) == 0 {
			delete(o.holds, k)
			o.nholds.Add(-1)
			o.mu.Unlock()
			break
		}
		f := h.frames[0]
		h.frames[0] = heldFrame{}
		h.frames = h.frames[1:]
		o.mu.Unlock()
		n.link.transmitNow(f.src, f.pkt)
		f.pkt.DecRef()
		o.mu.Lock()
	}
	n.done()
}

// endHandshake forgets k's accept wait (Dial is done waiting).
func (n *Network) endHandshake(k flowKey) {
	o := &n.hs
	o.mu.Lock()
	delete(o.accepted, k)
	o.mu.Unlock()
}

// acceptedHandshake tells a waiting Dial that the accepting side of k has
// run OnEstablished.
func (n *Network) acceptedHandshake(k flowKey) {
	o := &n.hs
	o.mu.Lock()
	ch := o.accepted[k]
	delete(o.accepted, k)
	o.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// waitAccepted waits until the accepting side of the dialled connection
// has run its hook, ctx ends, or acceptWait passes.
func waitAccepted(ctx context.Context, ch chan struct{}) {
	t := time.NewTimer(acceptWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-ctx.Done():
	case <-t.C:
	}
}
