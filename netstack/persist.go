package netstack

import (
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/seqnum"
)

// The persist probe stands in for a timer gVisor's TCP sender lacks.
//
// When a receiver's window falls below one MSS (its buffer full of
// out-of-order segments, or an application that reads slowly) and the
// sender's retransmission timer then fires, gVisor rewinds to the first
// unacknowledged segment, finds that it does not fit the window and defers
// it "to the retransmit timer handler" (snd.go, maybeSendSegment) - but the
// RTO handler has just set Outstanding to 0, and postXmit re-arms the
// retransmit timer only while Outstanding > 0. Nothing is in flight and no
// timer runs. The receiver sends one window update when its window grows
// past an MSS again; if that ACK is lost, both sides wait for ever:
// SndUna < SndNxt, Outstanding = 0, every timer disabled. Linux avoids this
// with its probe timer (tcp_check_probe_timer, tcp_probe_timer): a sender
// with unsent data and nothing in flight keeps probing, and every probe
// draws an ACK carrying the receiver's current window.
//
// Only a link that loses frames can lose the window update, so while faults
// are configured the link watches every TCP flow that lost a frame. If such
// a flow stays silent in both directions for twice the sender's RTO while
// the sender still holds data, the link sends the probe the sender should
// have sent: one byte just below what the receiver has acknowledged (the
// form of gVisor's own zero-window probe), which the receiver must answer
// with an ACK. A healthy sender never stays silent that long with data
// queued - its own timers send something every RTO - so the probe only
// ever fires on a stalled flow.

// flowWatch is one direction of a TCP flow, seen from its sender, while
// faults are configured.
type flowWatch struct {
	key    flowKey
	frames atomic.Uint64 // frames this side put on the link

	mu     sync.Mutex
	src    *Host
	proto  tcpip.NetworkProtocolNumber
	hdr    []byte       // this side's last IP+TCP header, options included
	acked  seqnum.Value // highest ACK this side sent: all it has received
	hasAck bool
	timer  *time.Timer
	seen   uint64    // frames of both directions when the timer was armed
	since  time.Time // when the flow was last seen moving
	probes int       // probes sent since the flow last moved
}

func (l *link) flowWatch(k flowKey) *flowWatch {
	if w, ok := l.watches.Load(k); ok {
		return w.(*flowWatch)
	}
	w, _ := l.watches.LoadOrStore(k, &flowWatch{key: k})
	return w.(*flowWatch)
}

// watchSent records a TCP frame src sends (nh, th: its network and TCP
// headers) while faults are configured.
func (l *link) watchSent(src *Host, k flowKey, proto tcpip.NetworkProtocolNumber, nh []byte, th header.TCP) {
	w := l.flowWatch(k)
	w.frames.Add(1)
	if th.Flags()&(header.TCPFlagSyn|header.TCPFlagRst) != 0 || th.Flags()&header.TCPFlagAck == 0 {
		return
	}
	w.mu.Lock()
	w.src, w.proto = src, proto
	w.hdr = append(append(w.hdr[:0], nh...), th[:th.DataOffset()]...)
	if a := seqnum.Value(th.AckNumber()); !w.hasAck || w.acked.LessThan(a) {
		w.acked, w.hasAck = a, true
	}
	w.mu.Unlock()
}

// watchLoss starts watching both directions of a flow that lost a frame.
func (l *link) watchLoss(k flowKey) {
	if l.closed.Load() {
		return
	}
	for _, kk := range []flowKey{k, k.reverse()} {
		// This runs on the sending stack's goroutine, under its endpoint
		// lock: nothing here may ask an endpoint anything. The first
		// check comes after the smallest interval persistInterval could
		// give; it waits longer if the sender's RTO says so.
		w := l.flowWatch(kk)
		w.mu.Lock()
		if w.timer == nil {
			w.seen, w.since = l.flowFrames(kk), time.Now()
			w.timer = time.AfterFunc(l.minPersist(), func() { l.persistCheck(w) })
		}
		w.mu.Unlock()
	}
}

func (k flowKey) reverse() flowKey {
	return flowKey{local: k.remote, remote: k.local, localPort: k.remotePort, remotePort: k.localPort}
}

// flowFrames counts the frames of both directions of k's flow.
func (l *link) flowFrames(k flowKey) uint64 {
	return l.flowWatch(k).frames.Load() + l.flowWatch(k.reverse()).frames.Load()
}

// persistInterval is how long c's flow may stay silent while c holds data
// before it counts as stalled: longer than anything gVisor's sender waits
// for on its own. That is the retransmission timer (c's current RTO, backed
// off, so zero-window probing with growing intervals never looks silent)
// and the tail loss probe (twice the smoothed RTT plus a worst-case delayed
// ACK of 200ms), with a margin for timer goroutines running late on a busy
// machine. It takes c's endpoint lock.
func (l *link) persistInterval(c *Conn) time.Duration {
	var ti tcpip.TCPInfoOption
	if c.ep.GetSockOpt(&ti) == nil && ti.RTO > 0 {
		return max(4*ti.RTO, 2*ti.RTT+tlpDelayedACK) + persistSlack
	}
	return l.minPersist()
}

const (
	// tlpDelayedACK is what gVisor's tail loss probe adds for a peer
	// that may delay its ACK (wcDelayedACKTimeout).
	tlpDelayedACK = 200 * time.Millisecond
	// persistSlack covers timer goroutines running late on a busy machine.
	persistSlack = 50 * time.Millisecond
)

// minPersist is the shortest persistInterval.
func (l *link) minPersist() time.Duration {
	return max(4*l.minRTO(), tlpDelayedACK) + persistSlack
}

func (l *link) minRTO() time.Duration {
	if r := l.net.opts.MinRTO; r > 0 {
		return r
	}
	return 200 * time.Millisecond // gVisor's default, like Linux's
}

// persistCheck runs when w's flow may have been silent for a full
// interval: it keeps watching while the flow moves, probes when it is
// stuck with data and stops once the sender holds nothing.
func (l *link) persistCheck(w *flowWatch) {
	if l.closed.Load() {
		return
	}
	c := l.net.connByKey(w.key)
	stuck := c != nil && !c.closed.Load()
	if stuck {
		used, ok := sendQueued(c.ep)
		stuck = ok && used > 0
	}
	var d time.Duration
	if stuck {
		d = l.persistInterval(c)
	}
	now := l.flowFrames(w.key)
	w.mu.Lock()
	w.timer = nil
	if !stuck {
		// Nothing to send: a later loss starts watching again.
		w.mu.Unlock()
		return
	}
	var probe *probeFrame
	wait := d << min(w.probes, 6)
	switch quiet := time.Since(w.since); {
	case now != w.seen:
		w.probes, w.since = 0, time.Now()
	case quiet < wait:
		wait -= quiet // not silent long enough for this sender's RTO
	default:
		if probe = l.makeProbe(w); probe != nil {
			w.probes++
			now++
			w.since = time.Now()
			wait = d << min(w.probes, 6)
		}
	}
	if w.probes <= 16 { // past that the peer does not answer: TCP's own timeouts decide
		w.seen = now
		w.timer = time.AfterFunc(wait, func() { l.persistCheck(w) })
	}
	w.mu.Unlock()
	if probe != nil {
		l.sendProbe(w, probe)
	}
}

type probeFrame struct {
	src, dst *Host
	proto    tcpip.NetworkProtocolNumber
	pkt      []byte
}

// makeProbe builds a probe from w's side to its peer: w's last header with
// one byte at the sequence number just below the peer's last ACK, flags ACK
// only; nil when w has not seen enough of the flow. w.mu is held.
func (l *link) makeProbe(w *flowWatch) *probeFrame {
	peer := l.flowWatch(w.key.reverse())
	peer.mu.Lock()
	seq, ok := peer.acked-1, peer.hasAck
	peer.mu.Unlock()
	if !ok || len(w.hdr) == 0 || w.src == nil {
		return nil
	}
	dst := (*l.net.byAddr.Load())[w.key.remote]
	if dst == nil {
		return nil
	}
	pkt := append(append([]byte(nil), w.hdr...), 0)
	var src, dstA tcpip.Address
	var th header.TCP
	if w.proto == ipv4.ProtocolNumber {
		ip := header.IPv4(pkt)
		hl := int(ip.HeaderLength())
		ip.SetTotalLength(uint16(len(pkt)))
		ip.SetChecksum(0)
		ip.SetChecksum(^ip.CalculateChecksum())
		src, dstA, th = ip.SourceAddress(), ip.DestinationAddress(), header.TCP(pkt[hl:])
	} else {
		ip := header.IPv6(pkt)
		ip.SetPayloadLength(uint16(len(pkt) - header.IPv6MinimumSize))
		src, dstA, th = ip.SourceAddress(), ip.DestinationAddress(), header.TCP(pkt[header.IPv6MinimumSize:])
	}
	th.SetSequenceNumber(uint32(seq))
	th.SetFlags(uint8(header.TCPFlagAck))
	th.SetChecksum(0)
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dstA, uint16(len(th)))
	th.SetChecksum(^checksum.Checksum(th, xsum))
	return &probeFrame{src: w.src, dst: dst, proto: w.proto, pkt: pkt}
}

// sendProbe puts a probe on the link, outside every lock: the receiver's
// answer may come back through this goroutine.
func (l *link) sendProbe(w *flowWatch, p *probeFrame) {
	pkt := p.pkt
	l.stats.probes.Add(1)
	l.stats.frames.Add(1)
	l.stats.bytes.Add(uint64(len(pkt)))
	l.net.activity.Add(1)
	w.frames.Add(1)
	var at time.Time
	if l.vclock != nil {
		at = l.vclock.frame()
	}
	buf := buffer.MakeWithData(pkt)
	if caps := l.captures.Load(); caps != nil && len(*caps) > 0 {
		l.capture(*caps, p.src, p.dst, p.proto, &buf, at)
	}
	l.deliver(p.dst, p.proto, buf)
}

// stopWatches ends every persist watch (the network is closing).
func (l *link) stopWatches() {
	l.watches.Range(func(_, v any) bool {
		w := v.(*flowWatch)
		w.mu.Lock()
		if w.timer != nil {
			w.timer.Stop()
			w.timer = nil
		}
		w.mu.Unlock()
		return true
	})
}

// connByKey returns the open Conn whose own view of its 4-tuple is k.
func (n *Network) connByKey(k flowKey) *Conn {
	n.trackMu.Lock()
	defer n.trackMu.Unlock()
	if t := n.byKey[k]; t != nil {
		return t.conn
	}
	return nil
}
