package netstack

import (
	"testing"

	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// segment builds a TCP header.
func segment(sport, dport uint16, seq, ack uint32, flags header.TCPFlags) header.TCP {
	th := header.TCP(make([]byte, header.TCPMinimumSize))
	th.Encode(&header.TCPFields{SrcPort: sport, DstPort: dport, SeqNum: seq, AckNum: ack, DataOffset: header.TCPMinimumSize, Flags: flags, WindowSize: 1000})
	return th
}

// The counters follow Linux's: the connecting side's SYN counts as acked,
// the accepting side's does not; a FIN counts as received; retransmitted
// data counts once.
func TestTCPCounters(t *testing.T) {
	a, b := tcpip.AddrFrom4([4]byte{10, 0, 0, 1}), tcpip.AddrFrom4([4]byte{10, 0, 0, 2})
	var s seqCounters
	const ca, cb = 1000, 5000 // ISNs
	s.record(a, b, segment(1, 2, ca, 0, header.TCPFlagSyn), 0)
	s.record(b, a, segment(2, 1, cb, ca+1, header.TCPFlagSyn|header.TCPFlagAck), 0)
	s.record(a, b, segment(1, 2, ca+1, cb+1, header.TCPFlagAck), 0)
	client := flowKey{local: a, remote: b, localPort: 1, remotePort: 2}
	server := client.reverse()

	c := s.counters(client, false)
	require.Equal(t, TCPCounters{Known: true, SndUna: ca + 1, SndNxt: ca + 1, RcvNxt: cb + 1, BytesAcked: 1, SegsIn: 1, SegsOut: 2}, c)
	c = s.counters(server, true)
	require.Equal(t, TCPCounters{Known: true, SndUna: cb + 1, SndNxt: cb + 1, RcvNxt: ca + 1, SegsIn: 2, SegsOut: 0}, c)

	// 100 bytes from the client, sent twice, acked; then its FIN.
	s.record(a, b, segment(1, 2, ca+1, cb+1, header.TCPFlagAck|header.TCPFlagPsh), 100)
	s.record(a, b, segment(1, 2, ca+1, cb+1, header.TCPFlagAck|header.TCPFlagPsh), 100)
	s.record(b, a, segment(2, 1, cb+1, ca+101, header.TCPFlagAck), 0)
	s.record(a, b, segment(1, 2, ca+101, cb+1, header.TCPFlagAck|header.TCPFlagFin), 0)
	c = s.counters(server, true)
	require.Equal(t, uint64(101), c.BytesReceived, "100 bytes and the FIN")
	c = s.counters(client, false)
	require.Equal(t, uint64(101), c.BytesAcked, "the SYN and 100 bytes")
	require.Equal(t, uint32(ca+102), c.SndNxt)

	s.forget(server)
	require.False(t, s.counters(client, false).Known)
}
