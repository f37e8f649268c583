package netstack

import (
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// TCPCounters are a connection's sequence-space counters as Linux keeps
// them in struct tcp_sock, worked out from the segments the link carried
// (gVisor does not export its own): what BPF programs read as
// bytes_received, bytes_acked, snd_una, snd_nxt, rcv_nxt, segs_in and
// segs_out.
type TCPCounters struct {
	// Known is false until the link has seen the connection's SYN in
	// both directions.
	Known                  bool
	SndUna, SndNxt, RcvNxt uint32
	// BytesReceived counts the peer's sequence space received in order
	// after its SYN (data and FIN, as tcp_rcv_nxt_update does).
	BytesReceived uint64
	// BytesAcked counts this side's sequence space the peer acknowledged,
	// as tcp_snd_una_update does: the SYN too for the connecting side,
	// whose snd_una starts at its ISN, not for the accepting side, whose
	// snd_una starts past it.
	BytesAcked uint64
	// SegsIn and SegsOut count the segments each way, the SYN-ACK of an
	// accepted connection excepted (its request socket sent it).
	SegsIn, SegsOut uint32
}

// flowSeq is what the link saw of one direction of a flow.
type flowSeq struct {
	synSeen  bool
	isn      uint32 // sequence number of the SYN
	end      uint32 // highest seq+len(+FIN) sent
	ack      uint32 // highest ack sent (acknowledging the other direction)
	ackSeen  bool
	segments uint32
}

// seqCounters holds the flowSeq of every flow direction, by the sender's
// view of the flow.
type seqCounters struct {
	mu    sync.Mutex
	flows map[flowKey]*flowSeq
}

// seqAfter is a > b in sequence space.
func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

// record notes one segment src->dst with payload bytes of data.
func (s *seqCounters) record(src, dst tcpip.Address, th header.TCP, payload int) {
	k := flowKey{local: src, remote: dst, localPort: th.SourcePort(), remotePort: th.DestinationPort()}
	flags := th.Flags()
	seq := th.SequenceNumber()
	end := seq + uint32(payload)
	if flags&header.TCPFlagSyn != 0 {
		end++
	}
	if flags&header.TCPFlagFin != 0 {
		end++
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flows == nil {
		s.flows = map[flowKey]*flowSeq{}
	}
	f := s.flows[k]
	if f == nil || flags&header.TCPFlagSyn != 0 && f.synSeen && seq != f.isn {
		// A new connection on the same 4-tuple starts afresh.
		f = &flowSeq{}
		s.flows[k] = f
	}
	f.segments++
	if flags&header.TCPFlagSyn != 0 && !f.synSeen {
		f.synSeen, f.isn, f.end = true, seq, end
	} else if f.synSeen && seqAfter(end, f.end) {
		f.end = end
	}
	if flags&header.TCPFlagAck != 0 {
		if a := th.AckNumber(); !f.ackSeen || seqAfter(a, f.ack) {
			f.ack, f.ackSeen = a, true
		}
	}
}

// counters works out the TCPCounters of the connection local->remote.
func (s *seqCounters) counters(k flowKey, passive bool) TCPCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, in := s.flows[k], s.flows[k.reverse()]
	if out == nil || in == nil || !out.synSeen || !in.synSeen {
		return TCPCounters{}
	}
	c := TCPCounters{Known: true, SndNxt: out.end, RcvNxt: in.end, SndUna: out.isn, SegsIn: in.segments, SegsOut: out.segments}
	if in.ackSeen && seqAfter(in.ack, out.isn) {
		c.SndUna = in.ack
	}
	c.BytesReceived = uint64(in.end - (in.isn + 1))
	acked := c.SndUna - out.isn
	if passive {
		acked-- // snd_una of an accepted socket starts past its SYN
		if c.SegsOut > 0 {
			c.SegsOut-- // the SYN-ACK
		}
	}
	if int32(acked) > 0 {
		c.BytesAcked = uint64(acked)
	}
	return c
}

// forget drops both directions of the flow k.
func (s *seqCounters) forget(k flowKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.flows, k)
	delete(s.flows, k.reverse())
}

// TCPCounters returns the connection's sequence-space counters (see
// TCPCounters).
func (r *RawConn) TCPCounters() TCPCounters {
	c := r.c
	return c.net.link.seq.counters(c.key, c.passive)
}
