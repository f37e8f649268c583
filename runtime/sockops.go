package runtime

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/skmsg/skmsg/netstack"
	"github.com/skmsg/skmsg/vm"
)

// This file runs sock_ops programs. The kernel attaches them to a cgroup
// and runs them for the TCP sockets of that cgroup; here they are attached
// to the whole network (AttachSockops) and run from the network's
// lifecycle callbacks, with the op codes and in the order the kernel's
// TCP calls them across both ends of a connection (recorded on the 6.18
// kernel, loopback and between two addresses alike; netstack's handshake
// order makes the two ends' hooks run in this sequence):
//
//	listen():                TCP_LISTEN_CB
//	connect(), before SYN:   TCP_CONNECT_CB, RWND_INIT, TIMEOUT_INIT,
//	                         NEEDS_ECN (state SYN_SENT)
//	listener gets the SYN:   RWND_INIT, TIMEOUT_INIT, NEEDS_ECN on the
//	                         request (is_fullsock 0, state NEW_SYN_RECV)
//	SYN-ACK arrives:         STATE_CB SYN_SENT->ESTABLISHED (if asked
//	                         for), then ACTIVE_ESTABLISHED_CB
//	its ACK arrives:         PASSIVE_ESTABLISHED_CB on the child (state
//	                         SYN_RECV), then STATE_CB SYN_RECV->ESTABLISHED
//	                         (if asked for in that callback: a child does
//	                         not inherit the listener's flags)
//
// connect() returns after all of them. The replies of the SYN-time
// callbacks (initial window, RTO, ECN) are not applied to the emulated
// TCP.

// sockOpsSock is a socket's sock_ops state.
type sockOpsSock struct {
	cbFlags atomic.Uint32
	// state is the kernel-model TCP state STATE_CB reports (tcp_state.go).
	state atomic.Uint32
	// opts are the integer options sock_ops setsockopt stored.
	mu   sync.Mutex
	opts map[[2]int32]int32
}

// AttachSockops attaches a sock_ops program to the whole network (the
// kernel's BPF_CGROUP_SOCK_OPS on the root cgroup, several programs
// allowed). Attaching the same program twice is EEXIST.
func (rt *Runtime) AttachSockops(p *Program) error {
	if p.Type != ebpf.SockOps {
		return &AttachError{Op: "attach", Program: p.Name, Map: "(network)", Attach: ebpf.AttachCGroupSockOps, Errno: errno.EINVAL,
			Detail: fmt.Sprintf("a %s program cannot attach as sockops", p.Type)}
	}
	rt.sockopsMu.Lock()
	defer rt.sockopsMu.Unlock()
	for _, q := range rt.sockops {
		if q == p {
			return &AttachError{Op: "attach", Program: p.Name, Map: "(network)", Attach: ebpf.AttachCGroupSockOps, Errno: errno.EEXIST}
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
	return &AttachError{Op: "detach", Program: p.Name, Map: "(network)", Attach: ebpf.AttachCGroupSockOps, Errno: errno.ENOENT}
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
// context, each seeing what the one before left in the args/reply union
// (bpf_prog_run_array); the result is the reply when all allowed
// (returned 1), else -1. Runs are one at a time (rt.runMu).
func (rt *Runtime) callSockOps(sk *Socket, a sockOpsArgs) int64 {
	progs := rt.sockopsProgs()
	if len(progs) == 0 {
		return 0
	}
	rt.runMu.Lock()
	defer rt.runMu.Unlock()
	allow := true
	var union [sockOpsOffArgsEnd - sockOpsOffArgs]byte
	for i, prog := range progs {
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
		binary.LittleEndian.PutUint32(r.sock[bpfSockOffState:], uint32(sk.stateFor(&a)))
		st.sk = sk
		st.sockAddr = mach.AddRegion(vm.Region{Name: "bpf_sock", Data: r.sock[:], Perm: vm.PermRead})
		sk.fillSockOps(&r.ctx, &a, st.sockAddr)
		if i > 0 {
			copy(r.ctx[sockOpsOffArgs:sockOpsOffArgsEnd], union[:])
		}
		st.ctxAddr = mach.AddRegion(vm.Region{Name: "bpf_sock_ops", Data: r.ctx[:], Perm: vm.PermRW})
		if rt.opts.Tracer != nil {
			mach.SetTracer(rt.opts.Tracer)
		}
		ret, err := mach.Run(prog.VM, st.ctxAddr)
		if err != nil || uint32(ret) != 1 {
			allow = false
		}
		copy(union[:], r.ctx[sockOpsOffArgs:sockOpsOffArgsEnd])
		if o := rt.opts.Observer; o != nil {
			v := "pass"
			if err != nil || uint32(ret) != 1 {
				v = "drop"
			}
			o.ProgramRun(&RunEvent{Program: prog, Socket: sk, Type: ebpf.SockOps, Return: ret, Verdict: v, Err: err})
		}
		r.mach, r.sk, r.a = nil, nil, nil
		st.sk = nil
		mp.put(mach)
	}
	if !allow {
		return -1
	}
	return int64(int32(binary.LittleEndian.Uint32(union[sockOpsOffReply-sockOpsOffArgs:])))
}

// stateFor is the state a callback reports: the one its call site gives,
// else the socket's.
func (sk *Socket) stateFor(a *sockOpsArgs) TCPState {
	if a.state != 0 {
		return a.state
	}
	return sk.State()
}

// stateCB runs STATE_CB for a move from old to new when the socket asked
// for it (tcp_set_state). It runs before the socket changes state, so
// the context's state is still old.
func (rt *Runtime) stateCB(sk *Socket, old, new TCPState) {
	if sk.ops.cbFlags.Load()&cbFlagState == 0 {
		return
	}
	rt.callSockOps(sk, sockOpsArgs{op: opStateCB, args: [4]uint32{uint32(old), uint32(new)}, fullsock: true, state: old})
}

const (
	tcpFlagSYN = 0x02
	tcpFlagACK = 0x10
)

// onConnect runs the connecting side's SYN-time callbacks, before its SYN
// is sent (tcp_connect: the connect callback, then tcp_connect_init's
// window and RTO, then tcp_ecn_send_syn).
func (rt *Runtime) onConnect(c *netstack.Conn) {
	if len(rt.sockopsProgs()) == 0 {
		return
	}
	sk := rt.socketOf(c)
	syn := sockOpsArgs{fullsock: true, state: netstack.StateSynSent}
	for _, op := range []uint32{opTCPConnectCB, opRwndInit, opTimeoutInit, opNeedsECN} {
		syn.op = op
		rt.callSockOps(sk, syn)
	}
}

// onSynRecv runs the listener's callbacks on a connection request
// (tcp_conn_request: tcp_openreq_init_rwin's window, the request's
// timeout, then tcp_ecn_create_request... in this order on 6.18) on a
// request socket: no full socket, the addresses of the request.
func (rt *Runtime) onSynRecv(l *netstack.Listener, remote netip.AddrPort) {
	if len(rt.sockopsProgs()) == 0 {
		return
	}
	req := rt.requestSocket(l.AddrPort(), remote)
	a := sockOpsArgs{state: netstack.StateNewSynRecv, tcpFlags: tcpFlagSYN}
	for _, op := range []uint32{opRwndInit, opTimeoutInit, opNeedsECN} {
		a.op = op
		rt.callSockOps(req, a)
	}
}

// requestSocket is the request sock of a connection a listener has not
// yet made a child for: addresses only, no descriptor.
func (rt *Runtime) requestSocket(local, remote netip.AddrPort) *Socket {
	s := &Socket{rt: rt, info: newSockInfo(local, remote)}
	s.info.fillMsgMd(s.msgMd[:])
	s.info.fillBpfSock(s.bpfSock[:])
	return s
}

// onEstablished runs the ESTABLISHED callbacks: on the connecting side
// when the SYN-ACK arrives (tcp_finish_connect: the state change first),
// on the child when the handshake's ACK arrives (tcp_rcv_state_process:
// the callback while still SYN_RECV, then the state change).
func (rt *Runtime) onEstablished(c *netstack.Conn, active bool) {
	if len(rt.sockopsProgs()) == 0 {
		return
	}
	sk := rt.socketOf(c)
	if active {
		rt.stateCB(sk, netstack.StateSynSent, StateEstablished)
		sk.established()
		rt.callSockOps(sk, sockOpsArgs{op: opActiveEstablished, fullsock: true, state: StateEstablished, tcpFlags: tcpFlagSYN | tcpFlagACK})
		return
	}
	rt.callSockOps(sk, sockOpsArgs{op: opPassiveEstablished, fullsock: true, state: netstack.StateSynRecv, tcpFlags: tcpFlagACK})
	rt.stateCB(sk, netstack.StateSynRecv, StateEstablished)
	sk.established()
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
