package netstack

import (
	"fmt"

	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// TCPState is a TCP state numbered as Linux's include/net/tcp_states.h.
type TCPState uint8

// TCP states.
const (
	StateEstablished TCPState = 1 + iota
	StateSynSent
	StateSynRecv
	StateFinWait1
	StateFinWait2
	StateTimeWait
	StateClose
	StateCloseWait
	StateLastAck
	StateListen
	StateClosing
	StateNewSynRecv
)

var stateNames = [...]string{
	StateEstablished: "ESTABLISHED", StateSynSent: "SYN_SENT", StateSynRecv: "SYN_RECV",
	StateFinWait1: "FIN_WAIT1", StateFinWait2: "FIN_WAIT2", StateTimeWait: "TIME_WAIT",
	StateClose: "CLOSE", StateCloseWait: "CLOSE_WAIT", StateLastAck: "LAST_ACK",
	StateListen: "LISTEN", StateClosing: "CLOSING", StateNewSynRecv: "NEW_SYN_RECV",
}

func (s TCPState) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("TCPState(%d)", uint8(s))
}

// stateOf maps gVisor's endpoint state (whose first eleven values follow
// Linux) to a Linux state; gVisor's internal states map to what Linux would
// report for the same socket.
func stateOf(s uint32) TCPState {
	switch st := tcp.EndpointState(s); st {
	case tcp.StateInitial, tcp.StateBound, tcp.StateError:
		return StateClose
	case tcp.StateConnecting:
		return StateSynSent
	default:
		if st >= tcp.StateEstablished && st <= tcp.StateClosing {
			return TCPState(st)
		}
		return StateClose
	}
}
