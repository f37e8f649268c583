package netstack

import (
	"gvisor.dev/gvisor/pkg/tcpip"
)

// RawConn is the socket-layer side of a Conn, for the code that plays the
// kernel's part above TCP (skmsg's runtime: tcp_bpf, the psock, the
// strparser): it reads and writes TCP directly, bypassing the hooks;
// feeds the application's ingress queue; installs the send, receive and
// consume hooks; and keeps the runtime's per-socket state (the owner).
// Compare net.TCPConn.SyscallConn: the application-facing Conn stays a
// net.Conn with sendmsg/recvmsg, and everything else hangs off Raw.
type RawConn struct{ c *Conn }

// Raw returns the Conn's raw handle. It is the same value on every call.
func (c *Conn) Raw() *RawConn { return &c.raw }

// Conn is the application-facing side of the connection.
func (r *RawConn) Conn() *Conn { return r.c }

// Host is the host the Conn lives on.
func (r *RawConn) Host() *Host { return r.c.host }

// Network is the network the Conn lives on.
func (r *RawConn) Network() *Network { return r.c.net }

// Passive reports whether the connection was accepted by a listener (the
// passive end), rather than dialed.
func (r *RawConn) Passive() bool { return r.c.passive }

// State is the TCP state, numbered as Linux numbers them.
func (r *RawConn) State() TCPState {
	c := r.c
	st := stateOf(c.ep.State())
	if st == StateClose || st == StateTimeWait {
		c.checkTCPDone()
	}
	return st
}

// checkTCPDone fires OnTCPDone once when TCP finished without the
// application closing the Conn.
func (c *Conn) checkTCPDone() {
	if c.tcpDone.Load() || c.closed.Load() {
		return
	}
	switch stateOf(c.ep.State()) {
	case StateClose, StateTimeWait:
	default:
		return
	}
	if c.tcpDone.Swap(true) {
		return
	}
	hk := c.net.getHooks()
	if hk == nil || hk.OnTCPDone == nil {
		return
	}
	n := c.net
	n.busy.Add(1)
	n.hookWG.Add(1)
	go func() {
		defer n.hookWG.Done()
		defer n.done()
		hk.OnTCPDone(c)
	}()
}

// Endpoint exposes the gVisor endpoint, for statistics and experiments.
func (r *RawConn) Endpoint() tcpip.Endpoint { return r.c.ep }

// SetOwner stores a value for the runtime (its per-socket state), so it
// needs no map from Conn to psock.
func (r *RawConn) SetOwner(v any) { r.c.owner.Store(ownerBox{v}) }

// Owner returns what SetOwner stored, or nil.
func (r *RawConn) Owner() any {
	c := r.c
	if b, ok := c.owner.Load().(ownerBox); ok {
		return b.v
	}
	return nil
}

type ownerBox struct{ v any }

// Closed reports whether Close or Abort was called.
func (r *RawConn) Closed() bool { return r.c.closed.Load() }
