package runtime

import (
	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/vm"
)

// This file holds the helpers that turn a socket pointer into a kernel
// socket struct: bpf_tcp_sock (sock_ops; the UAPI struct bpf_tcp_sock)
// and the bpf_skc_to_*_sock casts of bpf_sk_base_func_proto (BTF pointers
// to struct tcp_sock and the like, laid out in kernel_objects.go). Each
// returns NULL when the socket is not of the kind asked for, exactly as
// the kernel's casts check sk_fullsock, sk_protocol, sk_family and state.

// skcCast says which sockets a bpf_skc_to_* helper accepts.
type skcCast struct {
	id   asm.BuiltinFunc
	name string
	// ok reports whether the cast of sk succeeds.
	ok func(sk *Socket) bool
}

var skcCasts = []skcCast{
	// Full TCP sockets: every socket skmsg gives a program.
	{asm.FnSkcToTcpSock, "skc_to_tcp_sock", func(sk *Socket) bool { return sk.isFullTCP() }},
	{asm.FnSkcToTcp6Sock, "skc_to_tcp6_sock", func(sk *Socket) bool {
		return sk.isFullTCP() && sk.info.family == afInet6
	}},
	// Programs only ever hold full sockets here: no time-wait or request
	// socket, no UDP, unix or MPTCP socket.
	{asm.FnSkcToTcpTimewaitSock, "skc_to_tcp_timewait_sock", func(*Socket) bool { return false }},
	{asm.FnSkcToTcpRequestSock, "skc_to_tcp_request_sock", func(*Socket) bool { return false }},
	{asm.FnSkcToUdp6Sock, "skc_to_udp6_sock", func(*Socket) bool { return false }},
	{asm.FnSkcToUnixSock, "skc_to_unix_sock", func(*Socket) bool { return false }},
	{asm.FnSkcToMptcpSock, "skc_to_mptcp_sock", func(*Socket) bool { return false }},
}

func sockHelpers(rt *Runtime) vm.Helpers {
	h := vm.Helpers{}
	for _, c := range skcCasts {
		c := c
		h[c.id] = vm.Helper{ID: c.id, Name: c.name, Fn: func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
			st := runStateOf(m)
			sk := st.socketOfArg(r1)
			if sk == nil || !c.ok(sk) {
				return 0, nil
			}
			return st.kernelSock(m, sk)
		}}
	}
	h[asm.FnTcpSock] = vm.Helper{ID: asm.FnTcpSock, Name: "tcp_sock", Fn: func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
		st := runStateOf(m)
		sk := st.socketOfArg(r1)
		if sk == nil || !sk.isFullTCP() {
			return 0, nil
		}
		return st.uapiTCPSock(m, sk), nil
	}}
	return h
}
