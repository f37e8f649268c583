package netstack

import (
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// LinkStats counts what crossed the link.
type LinkStats struct {
	Frames     uint64 // frames put on the link by hosts
	Bytes      uint64 // IP bytes put on the link
	Delivered  uint64 // frames handed to a destination host (duplicates count)
	NoRoute    uint64 // frames to an address no host owns
	Lost       uint64 // frames dropped by the loss fault
	Duplicated uint64 // extra copies made by the duplication fault
	Reordered  uint64 // frames held back by the reorder fault
	Delayed    uint64 // frames that went through the delay queue
	Probes     uint64 // persist probes the link sent for stalled senders (see persist.go)
}

// link is the wire every host's NIC is plugged into. Frames are IP packets
// (no link header inside the stacks, so no ARP or neighbour discovery); a
// frame is delivered synchronously into the destination stack from the
// sender's goroutine unless a fault holds it back.
type link struct {
	net    *Network
	closed atomic.Bool
	// vclock is the network's clock when it is a VirtualClock, which
	// counts the frames.
	vclock *VirtualClock

	captures atomic.Pointer[[]*Capture]
	capMu    sync.Mutex

	faults atomic.Pointer[faultTable]
	fltMu  sync.Mutex

	// peerZeroWin maps a sender's view of a flow to whether the peer's last
	// segment advertised a zero window (data stuck there is not "in flight").
	peerZeroWin sync.Map // flowKey -> *atomic.Bool

	// handshakes holds connections whose SYN reached a listening port and
	// that the accept loop has not yet taken; see Network.idleNow.
	hsMu       sync.Mutex
	handshakes map[flowKey]struct{}
	resets     map[flowKey]struct{} // receiver's view of RSTs sent, until handled
	listening  atomic.Pointer[map[listenKey]struct{}]
	lnMu       sync.Mutex

	held       atomic.Int64 // frames held by delay/reorder faults
	delivering atomic.Int64

	stats struct {
		frames, bytes, delivered, noRoute, lost, dup, reordered, delayed, probes atomic.Uint64
	}

	// watches holds, while faults are configured, each TCP flow
	// direction's persist state (flowKey -> *flowWatch).
	watches sync.Map

	// seq keeps each flow's sequence-space counters (tcp_counters.go).
	seq seqCounters
}

// flowKey names a TCP flow from one endpoint's point of view.
type flowKey struct {
	local, remote         tcpip.Address
	localPort, remotePort uint16
}

type listenKey struct {
	addr tcpip.Address
	port uint16
}

func (l *link) init(n *Network) {
	l.net = n
	l.handshakes = make(map[flowKey]struct{})
	l.resets = make(map[flowKey]struct{})
	m := make(map[listenKey]struct{})
	l.listening.Store(&m)
}

func (l *link) addListening(k listenKey, add bool) {
	l.lnMu.Lock()
	defer l.lnMu.Unlock()
	old := *l.listening.Load()
	m := make(map[listenKey]struct{}, len(old)+1)
	for kk := range old {
		m[kk] = struct{}{}
	}
	if add {
		m[k] = struct{}{}
	} else {
		delete(m, k)
		l.hsMu.Lock()
		for f := range l.handshakes {
			if f.local == k.addr && f.localPort == k.port {
				delete(l.handshakes, f)
			}
		}
		l.hsMu.Unlock()
	}
	l.listening.Store(&m)
}

func (l *link) handshakeDone(k flowKey) {
	l.hsMu.Lock()
	delete(l.handshakes, k)
	l.hsMu.Unlock()
}

// takeResets returns and clears the RSTs seen since the last call.
func (l *link) takeResets() []flowKey {
	l.hsMu.Lock()
	defer l.hsMu.Unlock()
	if len(l.resets) == 0 {
		return nil
	}
	out := make([]flowKey, 0, len(l.resets))
	for k := range l.resets {
		out = append(out, k)
		delete(l.resets, k)
	}
	return out
}

func (l *link) putResets(ks []flowKey) {
	l.hsMu.Lock()
	defer l.hsMu.Unlock()
	for _, k := range ks {
		l.resets[k] = struct{}{}
	}
}

func (l *link) pendingHandshakes() int {
	l.hsMu.Lock()
	defer l.hsMu.Unlock()
	return len(l.handshakes)
}

// Stats returns the link counters.
func (n *Network) Stats() LinkStats {
	s := &n.link.stats
	return LinkStats{
		Frames: s.frames.Load(), Bytes: s.bytes.Load(), Delivered: s.delivered.Load(),
		NoRoute: s.noRoute.Load(), Lost: s.lost.Load(), Duplicated: s.dup.Load(),
		Reordered: s.reordered.Load(), Delayed: s.delayed.Load(), Probes: s.probes.Load(),
	}
}

// observe looks at the TCP header of a frame going src->dst: zero-window
// tracking for the idle check, and handshake bookkeeping for listeners.
func (l *link) observe(src, dst tcpip.Address, th header.TCP) {
	flags := th.Flags()
	sport, dport := th.SourcePort(), th.DestinationPort()
	// The window in this segment limits what dst may send to src.
	k := flowKey{local: dst, remote: src, localPort: dport, remotePort: sport}
	zero := th.WindowSize() == 0 && flags&(header.TCPFlagSyn|header.TCPFlagRst) == 0
	if v, ok := l.peerZeroWin.Load(k); ok {
		v.(*atomic.Bool).Store(zero)
	} else if zero {
		b := new(atomic.Bool)
		b.Store(true)
		if v, loaded := l.peerZeroWin.LoadOrStore(k, b); loaded {
			v.(*atomic.Bool).Store(true)
		}
	}
	switch {
	case flags&header.TCPFlagSyn != 0 && flags&header.TCPFlagAck == 0:
		if _, ok := (*l.listening.Load())[listenKey{dst, dport}]; ok {
			l.hsMu.Lock()
			l.handshakes[k] = struct{}{}
			l.hsMu.Unlock()
		}
	case flags&header.TCPFlagRst != 0:
		l.hsMu.Lock()
		if len(l.handshakes) > 0 {
			delete(l.handshakes, k)
			delete(l.handshakes, flowKey{local: src, remote: dst, localPort: sport, remotePort: dport})
		}
		// The receiver handles the reset on a stack goroutine later; the
		// idle check waits until its endpoint has closed.
		l.resets[k] = struct{}{}
		l.hsMu.Unlock()
	}
}

func (l *link) zeroWindow(k flowKey) bool {
	v, ok := l.peerZeroWin.Load(k)
	return ok && v.(*atomic.Bool).Load()
}

// transmit puts one frame from host src on the link, unless it belongs to
// a handshake whose connecting side is not yet ESTABLISHED as far as its
// hooks know (handshake_order.go): then it waits for releaseHandshake.
func (l *link) transmit(src *Host, pkt *stack.PacketBuffer) {
	if l.net.hs.nholds.Load() > 0 && l.holdHandshake(src, pkt) {
		return
	}
	l.transmitNow(src, pkt)
}

// holdHandshake queues pkt if it is a non-SYN TCP frame of a held flow.
func (l *link) holdHandshake(src *Host, pkt *stack.PacketBuffer) bool {
	srcA, dstA, tp, ok := frameAddrs(pkt)
	if !ok || tp != header.TCPProtocolNumber {
		return false
	}
	th := pkt.TransportHeader().Slice()
	if len(th) < header.TCPMinimumSize {
		return false
	}
	t := header.TCP(th)
	if t.Flags()&header.TCPFlagSyn != 0 {
		return false
	}
	k := flowKey{local: dstA, remote: srcA, localPort: t.DestinationPort(), remotePort: t.SourcePort()}
	return l.net.holdFrame(src, pkt, k)
}

// frameAddrs reads a frame's IP addresses and transport protocol.
func frameAddrs(pkt *stack.PacketBuffer) (src, dst tcpip.Address, tp tcpip.TransportProtocolNumber, ok bool) {
	nh := pkt.NetworkHeader().Slice()
	switch pkt.NetworkProtocolNumber {
	case ipv4.ProtocolNumber:
		if len(nh) < header.IPv4MinimumSize {
			return src, dst, tp, false
		}
		ip := header.IPv4(nh)
		return ip.SourceAddress(), ip.DestinationAddress(), ip.TransportProtocol(), true
	case ipv6.ProtocolNumber:
		if len(nh) < header.IPv6MinimumSize {
			return src, dst, tp, false
		}
		ip := header.IPv6(nh)
		return ip.SourceAddress(), ip.DestinationAddress(), ip.TransportProtocol(), true
	}
	return src, dst, tp, false
}

// transmitNow puts one frame from host src on the link.
func (l *link) transmitNow(src *Host, pkt *stack.PacketBuffer) {
	if l.closed.Load() {
		return
	}
	// The frame is in flight from here, not only once deliver hands it
	// over: the idle check must not look at the flow's endpoints between
	// marking them dirty below and the segment reaching the receiver's
	// queue, or it clears the mark, finds nothing queued, and skips the
	// receiver from then on (a stream ended with 2 MB still to move).
	l.delivering.Add(1)
	defer l.delivering.Add(-1)
	proto := pkt.NetworkProtocolNumber
	nh := pkt.NetworkHeader().Slice()
	var srcA, dstA tcpip.Address
	var tp tcpip.TransportProtocolNumber
	switch proto {
	case ipv4.ProtocolNumber:
		if len(nh) < header.IPv4MinimumSize {
			return
		}
		ip := header.IPv4(nh)
		srcA, dstA, tp = ip.SourceAddress(), ip.DestinationAddress(), ip.TransportProtocol()
	case ipv6.ProtocolNumber:
		if len(nh) < header.IPv6MinimumSize {
			return
		}
		ip := header.IPv6(nh)
		srcA, dstA, tp = ip.SourceAddress(), ip.DestinationAddress(), ip.TransportProtocol()
	default:
		return
	}
	ft := l.faults.Load()
	var flow flowKey
	isTCP := false
	if tp == header.TCPProtocolNumber {
		if th := header.TCP(pkt.TransportHeader().Slice()); len(th) >= header.TCPMinimumSize {
			l.observe(srcA, dstA, th)
			// Both ends of the flow have something to look at now.
			k := flowKey{local: srcA, remote: dstA, localPort: th.SourcePort(), remotePort: th.DestinationPort()}
			l.net.markDirty(k)
			l.net.markDirty(k.reverse())
			l.seq.record(srcA, dstA, th, pkt.Data().Size())
			if ft != nil {
				isTCP = true
				flow = flowKey{local: srcA, remote: dstA, localPort: th.SourcePort(), remotePort: th.DestinationPort()}
				l.watchSent(src, flow, proto, nh, th)
			}
		}
	}
	buf := pkt.ToBuffer()
	l.stats.frames.Add(1)
	l.stats.bytes.Add(uint64(buf.Size()))
	l.net.activity.Add(1)
	var at time.Time // the frame's time on a VirtualClock
	if l.vclock != nil {
		at = l.vclock.frame()
	}
	dst := (*l.net.byAddr.Load())[dstA]
	if caps := l.captures.Load(); caps != nil && len(*caps) > 0 {
		l.capture(*caps, src, dst, proto, &buf, at)
	}
	if dst == nil {
		l.stats.noRoute.Add(1)
		buf.Release()
		return
	}
	if ft != nil {
		if p := ft.path(src, dst); p != nil {
			p.handle(frame{dst: dst, proto: proto, buf: buf, tcp: isTCP, flow: flow})
			return
		}
	}
	l.deliver(dst, proto, buf)
}

// deliver hands a frame to dst's stack and consumes buf.
func (l *link) deliver(dst *Host, proto tcpip.NetworkProtocolNumber, buf buffer.Buffer) {
	d := dst.nic.dispatcher.Load()
	if d == nil || l.closed.Load() {
		buf.Release()
		return
	}
	l.delivering.Add(1)
	if l.vclock != nil {
		l.vclock.delivered()
	}
	buf = compact(buf)
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buf})
	(*d).DeliverNetworkPacket(proto, pkt)
	pkt.DecRef()
	l.stats.delivered.Add(1)
	l.delivering.Add(-1)
}

// compact copies a frame made of many small pieces into one. gVisor merges
// small writes into one segment by chaining their views; a receiver that
// reads such a segment a little at a time walks the chain from its start
// on every read, which is quadratic. One copy per frame (the kernel copies
// too) keeps reads linear.
func compact(buf buffer.Buffer) buffer.Buffer {
	const maxViews = 8
	views := 0
	vl := buf.AsViewList()
	for v := vl.Front(); v != nil; v = v.Next() {
		if views++; views > maxViews {
			break
		}
	}
	if views <= maxViews {
		return buf
	}
	v := buffer.NewViewSize(int(buf.Size()))
	buf.ReadAt(v.AsSlice(), 0)
	buf.Release()
	return buffer.MakeWithView(v)
}

func (l *link) shutdown() {
	l.closed.Store(true)
	if ft := l.faults.Load(); ft != nil {
		ft.stop()
	}
	l.stopWatches()
	l.capMu.Lock()
	l.captures.Store(nil)
	l.capMu.Unlock()
}

// nicEndpoint is a host's network interface: a stack.LinkEndpoint with no
// link-layer header whose transmit side is the shared link.
type nicEndpoint struct {
	host       *Host
	link       *link
	mtu        uint32
	dispatcher atomic.Pointer[stack.NetworkDispatcher]
}

var _ stack.LinkEndpoint = (*nicEndpoint)(nil)

func (e *nicEndpoint) MTU() uint32                      { return e.mtu }
func (e *nicEndpoint) SetMTU(mtu uint32)                {}
func (e *nicEndpoint) MaxHeaderLength() uint16          { return 0 }
func (e *nicEndpoint) LinkAddress() tcpip.LinkAddress   { return "" }
func (e *nicEndpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities is asked per packet by gVisor, so checksum computation
// follows whether a capture is running at that moment.
func (e *nicEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	o := &e.link.net.opts
	switch {
	case o.VerifyChecksums:
		return 0
	case o.ChecksumOffload:
		return stack.CapabilityTXChecksumOffload | stack.CapabilityRXChecksumOffload
	}
	if c := e.link.captures.Load(); c != nil && len(*c) > 0 {
		return stack.CapabilityRXChecksumOffload
	}
	return stack.CapabilityTXChecksumOffload | stack.CapabilityRXChecksumOffload
}
func (e *nicEndpoint) Attach(d stack.NetworkDispatcher) {
	if d == nil {
		e.dispatcher.Store(nil)
		return
	}
	e.dispatcher.Store(&d)
}
func (e *nicEndpoint) IsAttached() bool                        { return e.dispatcher.Load() != nil }
func (e *nicEndpoint) Wait()                                   {}
func (e *nicEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }
func (e *nicEndpoint) AddHeader(*stack.PacketBuffer)           {}
func (e *nicEndpoint) ParseHeader(*stack.PacketBuffer) bool    { return true }
func (e *nicEndpoint) Close()                                  {}
func (e *nicEndpoint) SetOnCloseAction(func())                 {}

func (e *nicEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	for _, pkt := range pkts.AsSlice() {
		e.link.transmit(e.host, pkt)
	}
	return pkts.Len(), nil
}
