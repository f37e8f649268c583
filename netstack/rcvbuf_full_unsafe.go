package netstack

import (
	"reflect"
	"unsafe"

	"gvisor.dev/gvisor/pkg/atomicbitops"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// gVisor charges every segment it holds for the reader (and every
// out-of-order one) with its metadata as well as its payload, and refuses
// any segment carrying data while that charge exceeds the receive buffer:
// dropped without an ACK. Its advertised window counts payload bytes only
// and never shrinks, so with a small SO_RCVBUF and segments smaller than
// their overhead the receiver drops data its own last window allowed. The
// sender then retransmits into a receiver that refuses every try until the
// reader reads: the flow is stalled exactly as behind a zero window, which
// the idle check must see to end a blocked send the way the kernel's send
// timeout does. The charge is read at an offset found by reflection once;
// TestReceiveRefusingLayout fails if a gVisor upgrade changes the layout.
var rcvMemLayout = func() (l struct {
	ok  bool
	off uintptr
}) {
	f, ok := reflect.TypeOf(tcp.Endpoint{}).FieldByName("rcvMemUsed")
	if !ok || len(f.Index) != 1 || f.Type != reflect.TypeOf(atomicbitops.Int32{}) {
		return
	}
	l.ok, l.off = true, f.Offset
	return
}()

// receiveRefusing reports whether ep drops every arriving data segment for
// lack of receive buffer (gVisor's segment queue admits one only while the
// memory charged is at most the buffer size).
func receiveRefusing(ep tcpip.Endpoint) bool {
	e, isTCP := ep.(*tcp.Endpoint)
	if !isTCP || !rcvMemLayout.ok {
		return false
	}
	used := (*atomicbitops.Int32)(unsafe.Add(unsafe.Pointer(e), rcvMemLayout.off)).Load()
	return int64(used) > ep.SocketOptions().GetReceiveBufferSize()
}

// peerRefusing reports whether the other end of the connection whose own
// view of its 4-tuple is k is on this network and refuses data for lack of
// receive buffer.
func (n *Network) peerRefusing(k flowKey) bool {
	v, ok := n.byKeyFast.Load(k.reverse())
	if !ok {
		return false
	}
	p := v.(*tracked)
	return p.ep != nil && p.ln == nil && receiveRefusing(p.ep)
}
