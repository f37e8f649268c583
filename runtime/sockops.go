package runtime

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/skmsg/skmsg/netstack"
	"github.com/skmsg/skmsg/vm"
)

// This file runs sock_ops programs. The kernel attaches them to a cgroup
// and runs them for the TCP sockets of that cgroup; here they are attached
// to the whole network (AttachSockops) and run from the network's
// lifecycle callbacks, with the op codes and in the order the kernel's
// TCP calls them for one connection:
//
//	listen():            TCP_LISTEN_CB
//	connecting side:     TCP_CONNECT_CB, RWND_INIT, TIMEOUT_INIT, NEEDS_ECN
//	                     (state SYN_SENT), then ACTIVE_ESTABLISHED_CB
//	accepting side:      NEEDS_ECN, RWND_INIT, TIMEOUT_INIT on the request
//	                     (is_fullsock 0), then PASSIVE_ESTABLISHED_CB on the
//	                     child, still in SYN_RECV, and STATE_CB for its move
//	                     to ESTABLISHED when the program asked for it.
//
// The SYN-time callbacks run once the handshake is done (netstack reports
// connections then), so their reply cannot change the handshake.

// sockOpsSock is a socket's sock_ops state.
type sockOpsSock struct {
	cbFlags atomic.Uint32
	// opts are the integer options sock_ops setsockopt stored.
	mu   sync.Mutex
	opts map[[2]int32]int32
}

// AttachSockops attaches a sock_ops program to the whole network (the
// kernel's BPF_CGROUP_SOCK_OPS on the root cgroup, several programs
// allowed). Attaching the same program twice is EEXIST.
func (rt *Runtime) AttachSockops(p *Program) error {
	if p.Type != ProgTypeSockOps {
		return &AttachError{Op: "attach", Program: p.Name, Map: "(network)", Attach: CgroupSockOps, Errno: errno.EINVAL,
			Detail: fmt.Sprintf("a %s program cannot attach as sockops", p.Type)}
	}
	rt.sockopsMu.Lock()
	defer rt.sockopsMu.Unlock()
	for _, q := range rt.sockops {
		if q == p {
			return &AttachError{Op: "attach", Program: p.Name, Map: "(network)", Attach: CgroupSockOps, Errno: errno.EEXIST}
		}
	}
	rt.sockops = append(rt.sockops, p)
	return nil
}

// DetachSockops removes a sock_ops program: ENOENT when it is not
// attached.
func (rt *Runtime) DetachSockops(p *Program) error {
	rt.sockopsMu.Lock()
	defer rt.sockopsMu.Unlock()
	for i, q := range rt.sockops {
		if q == p {
			rt.sockops = append(rt.sockops[:i:i], rt.sockops[i+1:]...)
			return nil
		}
	}
	return &AttachError{Op: "detach", Program: p.Name, Map: "(network)", Attach: CgroupSockOps, Errno: errno.ENOENT}
}

func (rt *Runtime) sockopsProgs() []*Program {
	rt.sockopsMu.Lock()
	defer rt.sockopsMu.Unlock()
	return rt.sockops
}

// sockOpsRun is the per-run state of a sock_ops program (runState.skb).
type sockOpsRun struct {
	mach *vm.Machine
	sk   *Socket
	a    *sockOpsArgs
	ctx  [sockOpsSize]byte
	sock [bpfSockSize]byte
}

// callSockOps is tcp_call_bpf: every attached program runs on the same
// context; the result is the reply when all allowed (returned 1), else -1.
func (rt *Runtime) callSockOps(sk *Socket, a sockOpsArgs) int64 {
	progs := rt.sockopsProgs()
	if len(progs) == 0 {
		return 0
	}
	allow := true
	var reply uint32
	for _, prog := range progs {
		mp := &prog.coll.pool
		mach := mp.get()
		st := mach.User.(*runState)
		r, _ := st.skb.(*sockOpsRun)
		if r == nil {
			r = &sockOpsRun{}
		}
		st.skb = r
		r.mach, r.sk, r.a = mach, sk, &a
		r.sock = sk.bpfSock
		binary.LittleEndian.PutUint32(r.sock[bpfSockOffState:], uint32(sk.State()))
		st.sk = sk
		st.sockAddr = mach.AddRegion(vm.Region{Name: "bpf_sock", Data: r.sock[:], Perm: vm.PermRead})
		sk.fillSockOps(&r.ctx, &a, st.sockAddr)
		binary.LittleEndian.PutUint32(r.ctx[sockOpsOffReply:], reply)
		st.ctxAddr = mach.AddRegion(vm.Region{Name: "bpf_sock_ops", Data: r.ctx[:], Perm: vm.PermRW})
		if rt.opts.Tracer != nil {
			mach.SetTracer(rt.opts.Tracer)
		}
		ret, err := mach.Run(prog.VM, st.ctxAddr)
		if err != nil || uint32(ret) != 1 {
			allow = false
		}
		reply = binary.LittleEndian.Uint32(r.ctx[sockOpsOffReply:])
		if o := rt.opts.Observer; o != nil {
			v := "pass"
			if err != nil || uint32(ret) != 1 {
				v = "drop"
			}
			o.ProgramRun(&RunEvent{Program: prog, Socket: sk, Type: ProgTypeSockOps, Return: ret, Verdict: v, Err: err})
		}
		r.mach, r.sk, r.a = nil, nil, nil
		st.sk = nil
		mp.put(mach)
	}
	if !allow {
		return -1
	}
	return int64(int32(reply))
}

// stateCB runs STATE_CB for a move from old to new when the socket asked
// for it (tcp_set_state).
func (rt *Runtime) stateCB(sk *Socket, old, new TCPState) {
	if sk.ops.cbFlags.Load()&cbFlagState == 0 {
		return
	}
	rt.callSockOps(sk, sockOpsArgs{op: opStateCB, args: [4]uint32{uint32(old), uint32(new)}, fullsock: true})
}

const (
	tcpFlagSYN = 0x02
	tcpFlagACK = 0x10
)

func (rt *Runtime) onEstablished(c *netstack.Conn, active bool) {
	if len(rt.sockopsProgs()) == 0 {
		return
	}
	sk := rt.socketOf(c)
	if active {
		syn := sockOpsArgs{fullsock: true, state: netstack.StateSynSent}
		for _, op := range []uint32{opTCPConnectCB, opRwndInit, opTimeoutInit, opNeedsECN} {
			syn.op = op
			rt.callSockOps(sk, syn)
		}
		rt.callSockOps(sk, sockOpsArgs{op: opActiveEstablished, fullsock: true, state: StateEstablished, tcpFlags: tcpFlagSYN | tcpFlagACK})
		return
	}
	req := sockOpsArgs{state: netstack.StateNewSynRecv, tcpFlags: tcpFlagSYN}
	for _, op := range []uint32{opNeedsECN, opRwndInit, opTimeoutInit} {
		req.op = op
		rt.callSockOps(sk, req)
	}
	rt.callSockOps(sk, sockOpsArgs{op: opPassiveEstablished, fullsock: true, state: netstack.StateSynRecv, tcpFlags: tcpFlagACK})
	rt.stateCB(sk, netstack.StateSynRecv, StateEstablished)
}

// listenSocks holds the Socket made for a listener while its TCP_LISTEN_CB
// runs, before Net.Listen wraps the listener.
var listenSocks sync.Map // *netstack.Listener -> *Socket

func (rt *Runtime) onListen(l *netstack.Listener) {
	if len(rt.sockopsProgs()) == 0 {
		return
	}
	sk := rt.newSocket(nil, l)
	listenSocks.Store(l, sk)
	rt.callSockOps(sk, sockOpsArgs{op: opTCPListenCB, fullsock: true, state: StateListen})
}

// listenSocket returns the Socket of a new listener: the one its
// TCP_LISTEN_CB ran with, or a new one.
func (rt *Runtime) listenSocket(l *netstack.Listener) *Socket {
	if v, ok := listenSocks.LoadAndDelete(l); ok {
		return v.(*Socket)
	}
	return rt.newSocket(nil, l)
}

// closeStateCB runs the STATE_CB callbacks a close makes, for sockets
// that asked for them: netstack reports no state changes, so the moves are
// those Linux makes on loopback, emitted when the application closes. A
// close from ESTABLISHED sends a FIN (FIN_WAIT1), the peer gets it
// (CLOSE_WAIT), ACKs it (FIN_WAIT2) and the orphaned socket ends (CLOSE);
// from CLOSE_WAIT it is LAST_ACK then CLOSE. Unread data makes it a reset:
// both ends go straight to CLOSE.
func (rt *Runtime) closeStateCB(s *Socket) {
	if s.conn == nil || len(rt.sockopsProgs()) == 0 {
		return
	}
	peer := rt.peerOf(s)
	switch s.conn.Raw().State() {
	case StateEstablished:
		if s.conn.Raw().TCPQueued() > 0 {
			rt.stateCB(s, StateEstablished, StateClose)
			if peer != nil && peer.conn.Raw().State() == StateEstablished {
				rt.stateCB(peer, StateEstablished, StateClose)
			}
			return
		}
		rt.stateCB(s, StateEstablished, netstack.StateFinWait1)
		if peer != nil && peer.conn.Raw().State() == StateEstablished {
			rt.stateCB(peer, StateEstablished, StateCloseWait)
		}
		rt.stateCB(s, netstack.StateFinWait1, netstack.StateFinWait2)
		rt.stateCB(s, netstack.StateFinWait2, StateClose)
	case StateCloseWait:
		rt.stateCB(s, StateCloseWait, netstack.StateLastAck)
		rt.stateCB(s, netstack.StateLastAck, StateClose)
	}
}

// peerOf finds the other end of s's connection among the runtime's open
// sockets.
func (rt *Runtime) peerOf(s *Socket) *Socket {
	rt.fdMu.Lock()
	defer rt.fdMu.Unlock()
	for _, o := range rt.fds {
		if o != nil && o != s && o.conn != nil && !o.closed.Load() &&
			o.info.local == s.info.remote && o.info.remote == s.info.local {
			return o
		}
	}
	return nil
}
