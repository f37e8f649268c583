package runtime

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/skmsg/skmsg/internal/kernelbtf"
	"github.com/skmsg/skmsg/vm"
)

// This file backs the kernel objects helpers hand to programs: the
// struct tcp_sock (sock, sock_common, inet_sock, inet_connection_sock at
// offset 0 of it) that bpf_skc_to_tcp_sock and friends return, the UAPI
// struct bpf_tcp_sock of bpf_tcp_sock, and the task_struct of
// bpf_get_current_task_btf. Each is a read-only region filled from the
// socket's state at the offsets of the kernel the BTF came from
// (internal/kernelbtf), made once per run on first use.

// kobj is one kernel object region of the current run.
type kobj struct {
	addr uint64
	kind string // "tcp_sock", "bpf_tcp_sock", "task_struct"
	sk   *Socket
}

// kobjs returns the run's kernel objects (reset with the machine).
func (st *runState) kobjLookup(kind string, sk *Socket) (uint64, bool) {
	for _, o := range st.kobjs {
		if o.kind == kind && o.sk == sk {
			return o.addr, true
		}
	}
	return 0, false
}

// socketOfArg resolves a socket pointer a program passes to a helper: the
// struct bpf_sock of the run's socket, a socket a sockmap lookup returned,
// or a kernel socket struct a helper returned. nil when it is none of
// them.
func (st *runState) socketOfArg(addr uint64) *Socket {
	if addr == 0 {
		return nil
	}
	if st.sk != nil && addr == st.sockAddr {
		return st.sk
	}
	for _, o := range st.kobjs {
		if o.addr == addr && o.sk != nil && o.kind != "bpf_tcp_sock" {
			return o.sk
		}
	}
	return nil
}

// resetKernelObjects forgets the run's objects; their regions go with the
// machine's Reset.
func (st *runState) resetKernelObjects() { st.kobjs = st.kobjs[:0] }

// tcpState is what the TCP fields of struct tcp_sock and struct
// bpf_tcp_sock are filled from.
type tcpState struct {
	sndCwnd, srttUs, sndSsthresh, mss uint32
	rttMin                            uint32
	rcvNxt, sndNxt, sndUna            uint32
	segsIn, segsOut                   uint32
	bytesReceived, bytesAcked         uint64
}

// tcpStateOf reads what gVisor knows of the connection (TCP_INFO) and
// the sequence-space counters the virtual link keeps (gVisor does not
// export its own): sequence numbers (from gVisor's ISNs; the kernel's are
// random too), bytes received and acked and segment counts as Linux
// counts them. Segment counts follow gVisor's segmentation and ACK
// policy, which are not Linux's once data flows.
func tcpStateOf(sk *Socket) tcpState {
	s := tcpState{sndCwnd: 10, sndSsthresh: 0x7fffffff, rttMin: 0xffffffff}
	if sk.conn == nil {
		return s
	}
	ep := sk.conn.Raw().Endpoint()
	var ti tcpip.TCPInfoOption
	if err := ep.GetSockOpt(&ti); err == nil {
		if ti.SndCwnd != 0 {
			s.sndCwnd = ti.SndCwnd
		}
		// gVisor starts ssthresh at MaxInt, Linux at
		// TCP_INFINITE_SSTHRESH (0x7fffffff).
		if ti.SndSsthresh != 0 && ti.SndSsthresh < 0x7fffffff {
			s.sndSsthresh = ti.SndSsthresh
		}
		// The kernel keeps srtt_us scaled by 8.
		s.srttUs = uint32(ti.RTT/time.Microsecond) << 3
	}
	if mss, err := ep.GetSockOptInt(tcpip.MaxSegOption); err == nil && mss > 0 {
		s.mss = uint32(mss)
	}
	if c := sk.conn.Raw().TCPCounters(); c.Known {
		s.rcvNxt, s.sndNxt, s.sndUna = c.RcvNxt, c.SndNxt, c.SndUna
		s.segsIn, s.segsOut = c.SegsIn, c.SegsOut
		s.bytesReceived, s.bytesAcked = c.BytesReceived, c.BytesAcked
	}
	return s
}

// isFullTCP is sk_fullsock(sk) && sk_protocol == IPPROTO_TCP: every
// socket skmsg hands to a program is a full TCP socket (request sockets
// are only seen through sock_ops fields, never as pointers).
func (sk *Socket) isFullTCP() bool { return sk != nil }

// kernelSock returns the address of sk's struct tcp_sock (tcp6_sock for
// an IPv6 socket), making it on first use in this run.
func (st *runState) kernelSock(m *vm.Machine, sk *Socket) (uint64, error) {
	if addr, ok := st.kobjLookup("tcp_sock", sk); ok {
		return addr, nil
	}
	b, err := kernelSockBytes(sk, st.stateOf(sk), sk.accepted())
	if err != nil {
		return 0, err
	}
	addr := m.AddRegion(vm.Region{Name: "tcp_sock", Data: b, Perm: vm.PermRead})
	if sk.info.family == afInet6 {
		// inet_sock.pinet6 points at the ipv6_pinfo that ends tcp6_sock.
		if err := setPinet6(b, addr); err != nil {
			return 0, err
		}
	}
	st.kobjs = append(st.kobjs, kobj{addr: addr, kind: "tcp_sock", sk: sk})
	return addr, nil
}

// Paths of struct tcp_sock's embedded structs.
const (
	pathInet   = "inet_conn.icsk_inet."
	pathSk     = pathInet + "sk."
	pathCommon = pathSk + "__sk_common."
)

// TCP states as struct sock_common.skc_state numbers them are Linux's,
// which TCPState already uses.

// stateOf is sk's TCP state as the running program sees it: a sock_ops
// callback may run before netstack's state moved (PASSIVE_ESTABLISHED_CB
// runs while the socket is still SYN_RECV).
func (st *runState) stateOf(sk *Socket) TCPState {
	if r, ok := st.skb.(*sockOpsRun); ok && r.sk == sk && r.a != nil && r.a.state != 0 {
		return r.a.state
	}
	return sk.State()
}

// accepted reports whether sk came out of accept (the passive end of its
// connection).
func (sk *Socket) accepted() bool {
	return sk.conn != nil && sk.conn.Raw().Passive()
}

func kernelSockBytes(sk *Socket, state TCPState, passive bool) ([]byte, error) {
	name := "tcp_sock"
	if sk.info.family == afInet6 {
		name = "tcp6_sock"
	}
	s, err := kernelbtf.Lookup(name)
	if err != nil {
		return nil, err
	}
	w := s.NewWriter()
	prefix := ""
	if name == "tcp6_sock" {
		prefix = "tcp."
	}
	common, skp, inet := prefix+pathCommon, prefix+pathSk, prefix+pathInet
	si := &sk.info
	w.Put(common+"skc_family", uint64(si.family))
	w.Put(common+"skc_state", uint64(state))
	w.Put(common+"skc_num", uint64(si.local.Port()))
	w.Put(common+"skc_dport", uint64(htons(si.remote.Port())))
	w.Put(common+"skc_cookie.counter", sk.Cookie())
	if si.family == afInet {
		l4, r4 := si.local.Addr().As4(), si.remote.Addr().As4()
		w.PutBytes(common+"skc_rcv_saddr", l4[:])
		w.PutBytes(common+"skc_daddr", r4[:])
		w.PutBytes(inet+"inet_saddr", l4[:])
	} else {
		l6, r6 := si.local.Addr().As16(), si.remote.Addr().As16()
		w.PutBytes(common+"skc_v6_rcv_saddr", l6[:])
		w.PutBytes(common+"skc_v6_daddr", r6[:])
		// The IPv4 fields of an IPv6 socket hold LOOPBACK4_IPV6
		// (127.0.0.6): tcp_v6_connect sets the bound address to it, and
		// tcp_v6_syn_recv_sock all three on an accepted socket.
		if passive {
			w.PutBytes(common+"skc_daddr", loopback4IPv6[:])
			w.PutBytes(inet+"inet_saddr", loopback4IPv6[:])
		}
		w.PutBytes(common+"skc_rcv_saddr", loopback4IPv6[:])
	}
	w.Put(inet+"inet_sport", uint64(htons(si.local.Port())))
	w.Put(skp+"sk_protocol", syscall.IPPROTO_TCP)
	w.Put(skp+"sk_type", syscall.SOCK_STREAM)
	w.Put(skp+"sk_rcvlowat", 1)
	ts := tcpStateOf(sk)
	tp := prefix
	w.Put(tp+"snd_cwnd", uint64(ts.sndCwnd))
	w.Put(tp+"srtt_us", uint64(ts.srttUs))
	w.Put(tp+"snd_ssthresh", uint64(ts.sndSsthresh))
	w.Put(tp+"mss_cache", uint64(ts.mss))
	w.Put(tp+"rcv_nxt", uint64(ts.rcvNxt))
	w.Put(tp+"snd_nxt", uint64(ts.sndNxt))
	w.Put(tp+"snd_una", uint64(ts.sndUna))
	w.Put(tp+"segs_in", uint64(ts.segsIn))
	w.Put(tp+"segs_out", uint64(ts.segsOut))
	w.Put(tp+"bytes_received", ts.bytesReceived)
	w.Put(tp+"bytes_acked", ts.bytesAcked)
	if w.Err != nil {
		return nil, fmt.Errorf("laying out struct %s: %w", name, w.Err)
	}
	return w.Buf, nil
}

func setPinet6(b []byte, base uint64) error {
	s, err := kernelbtf.Lookup("tcp6_sock")
	if err != nil {
		return err
	}
	inet6, err := s.Field("inet6")
	if err != nil {
		return err
	}
	ptr, err := s.Field("tcp." + pathInet + "pinet6")
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(b[ptr.Offset:], base+uint64(inet6.Offset))
	return nil
}

// loopback4IPv6 is LOOPBACK4_IPV6 in network order.
var loopback4IPv6 = [4]byte{127, 0, 0, 6}

func htons(p uint16) uint16 { return p<<8 | p>>8 }

// struct bpf_tcp_sock (UAPI), what bpf_tcp_sock returns.
const (
	bpfTCPSockSize        = 112
	bpfTCPSockOffSndCwnd  = 0
	bpfTCPSockOffSrttUs   = 4
	bpfTCPSockOffRttMin   = 8
	bpfTCPSockOffSsthresh = 12
	bpfTCPSockOffRcvNxt   = 16
	bpfTCPSockOffSndNxt   = 20
	bpfTCPSockOffSndUna   = 24
	bpfTCPSockOffMssCache = 28
	bpfTCPSockOffSegsIn   = 56
	bpfTCPSockOffSegsOut  = 64
	bpfTCPSockOffBytesRcv = 80
	bpfTCPSockOffBytesAck = 88
)

// uapiTCPSock returns the address of sk's struct bpf_tcp_sock for this run.
func (st *runState) uapiTCPSock(m *vm.Machine, sk *Socket) uint64 {
	if addr, ok := st.kobjLookup("bpf_tcp_sock", sk); ok {
		return addr
	}
	b := make([]byte, bpfTCPSockSize)
	ts := tcpStateOf(sk)
	le := binary.LittleEndian
	le.PutUint32(b[bpfTCPSockOffSndCwnd:], ts.sndCwnd)
	le.PutUint32(b[bpfTCPSockOffSrttUs:], ts.srttUs)
	le.PutUint32(b[bpfTCPSockOffRttMin:], ts.rttMin)
	le.PutUint32(b[bpfTCPSockOffSsthresh:], ts.sndSsthresh)
	le.PutUint32(b[bpfTCPSockOffMssCache:], ts.mss)
	le.PutUint32(b[bpfTCPSockOffRcvNxt:], ts.rcvNxt)
	le.PutUint32(b[bpfTCPSockOffSndNxt:], ts.sndNxt)
	le.PutUint32(b[bpfTCPSockOffSndUna:], ts.sndUna)
	le.PutUint32(b[bpfTCPSockOffSegsIn:], ts.segsIn)
	le.PutUint32(b[bpfTCPSockOffSegsOut:], ts.segsOut)
	le.PutUint64(b[bpfTCPSockOffBytesRcv:], ts.bytesReceived)
	le.PutUint64(b[bpfTCPSockOffBytesAck:], ts.bytesAcked)
	addr := m.AddRegion(vm.Region{Name: "bpf_tcp_sock", Data: b, Perm: vm.PermRead})
	st.kobjs = append(st.kobjs, kobj{addr: addr, kind: "bpf_tcp_sock", sk: sk})
	return addr
}

// currentTask returns the address of the current task's task_struct: the
// task whose pid and tgid get_current_pid_tgid returns, with this
// process's name as comm (on the kernel, the sockmap programs of a
// scenario run in the sending process's context).
func (st *runState) currentTask(m *vm.Machine) (uint64, error) {
	if addr, ok := st.kobjLookup("task_struct", nil); ok {
		return addr, nil
	}
	s, err := kernelbtf.Lookup("task_struct")
	if err != nil {
		return 0, err
	}
	w := s.NewWriter()
	pidTgid := st.rt.helpers.Env().PidTgid
	w.Put("pid", pidTgid&0xffffffff)
	w.Put("tgid", pidTgid>>32)
	w.PutBytes("comm", []byte(processComm()))
	if w.Err != nil {
		return 0, fmt.Errorf("laying out struct task_struct: %w", w.Err)
	}
	addr := m.AddRegion(vm.Region{Name: "task_struct", Data: w.Buf, Perm: vm.PermRead})
	st.kobjs = append(st.kobjs, kobj{addr: addr, kind: "task_struct"})
	return addr, nil
}

// taskCommLen is TASK_COMM_LEN.
const taskCommLen = 16

// processComm is this process's comm (what the kernel reports for the
// threads of the process that runs a scenario on it), at most 15 bytes.
var processComm = sync.OnceValue(func() string {
	name := ""
	if b, err := os.ReadFile("/proc/self/comm"); err == nil {
		name = strings.TrimSpace(string(b))
	} else if exe, err := os.Executable(); err == nil {
		name = filepath.Base(exe)
	}
	if name == "" {
		name = "skmsg"
	}
	if len(name) > taskCommLen-1 {
		name = name[:taskCommLen-1]
	}
	return name
})
