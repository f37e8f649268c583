package runtime

import "github.com/skmsg/skmsg/netstack"

// This file keeps, for sock_ops STATE_CB, each connected socket's state as
// the kernel's TCP would move it. gVisor reports no state changes, so the
// moves are those Linux makes on loopback (recorded on the 6.18 kernel),
// derived from what the application does and delivered to both ends in
// the kernel's order:
//
//	FIN from ESTABLISHED (shutdown(SHUT_WR) or close):
//	    it: ESTABLISHED->FIN_WAIT1; peer: ESTABLISHED->CLOSE_WAIT;
//	    it: FIN_WAIT1->FIN_WAIT2; after close (orphaned) also FIN_WAIT2->CLOSE
//	FIN from CLOSE_WAIT:
//	    it: CLOSE_WAIT->LAST_ACK; peer in FIN_WAIT2: ->CLOSE (time-wait);
//	    it: LAST_ACK->CLOSE
//	close in FIN_WAIT2: FIN_WAIT2->FIN_WAIT2 (tcp_close_state sets the
//	    state it keeps, and tcp_set_state reports it), then ->CLOSE (an
//	    orphan does not wait for the peer)
//	close with unread data (a reset): it ->CLOSE, then the peer ->CLOSE
//
// A listener's close makes no STATE_CB on 6.18, even with the flag set.

// kstate is the socket's state in this model (0 until it is
// ESTABLISHED under sock_ops).
func (s *Socket) kstate() TCPState { return TCPState(s.ops.state.Load()) }

// setKState moves s to new, running STATE_CB first when s asked for it
// (tcp_set_state reports a "move" to the same state too).
func (rt *Runtime) setKState(s *Socket, new TCPState) {
	old := s.kstate()
	if old == 0 {
		return
	}
	rt.stateCB(s, old, new)
	s.ops.state.Store(uint32(new))
}

// established starts tracking s once its ESTABLISHED callbacks ran.
func (s *Socket) established() { s.ops.state.Store(uint32(StateEstablished)) }

// sentFIN is s sending its FIN (shutdown for writing, or close when
// orphan is set).
func (rt *Runtime) sentFIN(s *Socket, orphan bool) {
	peer := rt.peerOf(s)
	switch s.kstate() {
	case StateEstablished:
		rt.setKState(s, netstack.StateFinWait1)
		if peer != nil && peer.kstate() == StateEstablished {
			rt.setKState(peer, StateCloseWait)
		}
		rt.setKState(s, netstack.StateFinWait2)
		if orphan {
			rt.setKState(s, StateClose)
		}
	case StateCloseWait:
		rt.setKState(s, netstack.StateLastAck)
		if peer != nil && peer.kstate() == netstack.StateFinWait2 {
			rt.setKState(peer, StateClose)
		}
		rt.setKState(s, StateClose)
	case netstack.StateFinWait2:
		if orphan {
			rt.setKState(s, netstack.StateFinWait2)
			rt.setKState(s, StateClose)
		}
	}
}

// resetClose is s closing with unread data: it sends a reset.
func (rt *Runtime) resetClose(s *Socket) {
	switch s.kstate() {
	case 0, StateClose:
		return
	}
	peer := rt.peerOf(s)
	rt.setKState(s, StateClose)
	if peer != nil {
		rt.setKState(peer, StateClose)
	}
}

// closeStateCB is the application closing s.
func (rt *Runtime) closeStateCB(s *Socket) {
	if s.conn == nil || s.kstate() == 0 {
		return
	}
	if s.conn.Raw().TCPQueued() > 0 {
		rt.resetClose(s)
		return
	}
	rt.sentFIN(s, true)
}
