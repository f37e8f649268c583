package runtime

import (
	"encoding/binary"
	"fmt"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/vm"
)

// This file holds the SOCK_OPS helpers (sock_ops_func_proto): map
// insertion, callback flags, the setsockopt/getsockopt subset and the
// socket cookie. Header-option helpers are not offered, so programs
// calling them are refused at prepare time.

// Socket option levels and names the sock_ops setsockopt accepts.
const (
	solIP     = 0
	solSocket = 1
	solTCP    = 6
	solIPv6   = 41

	soReuseaddr      = 2
	soSndbuf         = 7
	soRcvbuf         = 8
	soKeepalive      = 9
	soPriority       = 12
	soReuseport      = 15
	soRcvlowat       = 18
	soBindtodevice   = 25
	soMark           = 36
	soMaxPacingRate  = 47
	soBindtoifindex  = 62
	soTxrehash       = 74
	skBPFCbFlags     = 1009
	ipTOS            = 1
	ipv6Tclass       = 67
	ipv6Autoflowlbl  = 70
	tcpNodelay       = 1
	tcpMaxseg        = 2
	tcpKeepidle      = 4
	tcpKeepintvl     = 5
	tcpKeepcnt       = 6
	tcpSyncnt        = 7
	tcpWindowClamp   = 10
	tcpCongestion    = 13
	tcpThinLinear    = 16
	tcpUserTimeout   = 18
	tcpNotsentLowat  = 25
	tcpSaveSyn       = 27
	tcpRtoMaxMs      = 44
	tcpBPFIW         = 1001
	tcpBPFSndcwndClp = 1002
	tcpBPFDelackMax  = 1003
	tcpBPFRtoMin     = 1004
	tcpBPFSyn        = 1005
	tcpBPFSynIP      = 1006
	tcpBPFSynMac     = 1007
	tcpBPFCbFlags    = 1008
)

var sockOpsIntOpts = map[[2]int32]bool{
	{solSocket, soReuseaddr}: true, {solSocket, soSndbuf}: true, {solSocket, soRcvbuf}: true,
	{solSocket, soKeepalive}: true, {solSocket, soPriority}: true, {solSocket, soReuseport}: true,
	{solSocket, soRcvlowat}: true, {solSocket, soMark}: true, {solSocket, soMaxPacingRate}: true,
	{solSocket, soBindtoifindex}: true, {solSocket, soTxrehash}: true, {solSocket, skBPFCbFlags}: true,
	{solIP, ipTOS}: true, {solIPv6, ipv6Tclass}: true, {solIPv6, ipv6Autoflowlbl}: true,
	{solTCP, tcpNodelay}: true, {solTCP, tcpMaxseg}: true, {solTCP, tcpKeepidle}: true,
	{solTCP, tcpKeepintvl}: true, {solTCP, tcpKeepcnt}: true, {solTCP, tcpSyncnt}: true,
	{solTCP, tcpWindowClamp}: true, {solTCP, tcpThinLinear}: true, {solTCP, tcpUserTimeout}: true,
	{solTCP, tcpNotsentLowat}: true, {solTCP, tcpSaveSyn}: true, {solTCP, tcpRtoMaxMs}: true,
	{solTCP, tcpBPFIW}: true, {solTCP, tcpBPFSndcwndClp}: true, {solTCP, tcpBPFDelackMax}: true,
	{solTCP, tcpBPFRtoMin}: true, {solTCP, tcpBPFCbFlags}: true,
}

func sockOpsArg(m *vm.Machine, r1 uint64, helper string) (*sockOpsRun, error) {
	st, ok := m.User.(*runState)
	if !ok {
		return nil, fmt.Errorf("%s: not running a sock_ops program", helper)
	}
	r, ok := st.skb.(*sockOpsRun)
	if !ok || r.mach != m || r1 != st.ctxAddr {
		return nil, fmt.Errorf("%s: argument 1 (%#x) is not the program's bpf_sock_ops", helper, r1)
	}
	return r, nil
}

// lockedTCP is is_locked_tcp_sock_ops: the callbacks up to
// WRITE_HDR_OPT_CB run with the socket locked.
func (r *sockOpsRun) lockedTCP() bool { return r.a.op <= 15 }

// setCbFlags stores the callback flags and returns the bits not
// supported.
func (sk *Socket) setCbFlags(flags uint32) uint32 {
	sk.ops.cbFlags.Store(flags & cbFlagAll)
	return flags &^ cbFlagAll
}

func sockOpsHelpers(rt *Runtime) vm.Helpers {
	h := vm.Helpers{}
	add := func(id asm.BuiltinFunc, name string, fn vm.HelperFunc) {
		h[id] = vm.Helper{ID: id, Name: name, Fn: fn}
	}
	update := func(name string, hash bool) vm.HelperFunc {
		return func(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
			r, err := sockOpsArg(m, r1, name)
			if err != nil {
				return 0, err
			}
			sm, err := rt.sockMapArg(r2, name, hash)
			if err != nil {
				return 0, err
			}
			key, err := m.Bytes(r3, int(sm.spec.KeySize), vm.PermRead)
			if err != nil {
				return 0, fmt.Errorf("%s: key: %w", name, err)
			}
			switch r.a.op {
			case opActiveEstablished, opPassiveEstablished, opTCPListenCB:
			default:
				return negErrno(errno.EOPNOTSUPP), nil
			}
			if !r.a.fullsock {
				return negErrno(errno.EOPNOTSUPP), nil
			}
			k := append([]byte(nil), key...)
			if e := sm.updateCommon(k, r.sk, r4); e != 0 {
				return negErrno(e), nil
			}
			return 0, nil
		}
	}
	add(asm.FnSockMapUpdate, "sock_map_update", update("sock_map_update", false))
	add(asm.FnSockHashUpdate, "sock_hash_update", update("sock_hash_update", true))
	add(asm.FnSockOpsCbFlagsSet, "sock_ops_cb_flags_set", func(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
		r, err := sockOpsArg(m, r1, "sock_ops_cb_flags_set")
		if err != nil {
			return 0, err
		}
		if !r.lockedTCP() {
			return negErrno(errno.EOPNOTSUPP), nil
		}
		if !r.a.fullsock {
			return negErrno(errno.EINVAL), nil
		}
		rest := r.sk.setCbFlags(uint32(r2))
		binary.LittleEndian.PutUint32(r.ctx[sockOpsOffCbFlags:], r.sk.ops.cbFlags.Load())
		return uint64(int64(int32(rest))), nil
	})
	add(asm.FnSetsockopt, "setsockopt", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		r, err := sockOpsArg(m, r1, "setsockopt")
		if err != nil {
			return 0, err
		}
		val, err := m.Bytes(r4, int(int32(r5)), vm.PermRead)
		if err != nil {
			return 0, fmt.Errorf("setsockopt: optval: %w", err)
		}
		if !r.lockedTCP() {
			return negErrno(errno.EOPNOTSUPP), nil
		}
		if !r.a.fullsock {
			return negErrno(errno.EINVAL), nil
		}
		return uint64(r.sk.bpfSetsockopt(int32(r2), int32(r3), val)), nil
	})
	add(asm.FnGetsockopt, "getsockopt", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		r, err := sockOpsArg(m, r1, "getsockopt")
		if err != nil {
			return 0, err
		}
		out, err := m.Bytes(r4, int(int32(r5)), vm.PermWrite)
		if err != nil {
			return 0, fmt.Errorf("getsockopt: optval: %w", err)
		}
		ret := int64(0)
		switch {
		case !r.lockedTCP():
			ret = -int64(errno.EOPNOTSUPP)
		case !r.a.fullsock:
			ret = -int64(errno.EINVAL)
		default:
			ret = r.sk.bpfGetsockopt(int32(r2), int32(r3), out)
		}
		if ret < 0 {
			clear(out)
		}
		return uint64(ret), nil
	})
	add(asm.FnGetSocketCookie, "get_socket_cookie", func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
		r, err := sockOpsArg(m, r1, "get_socket_cookie")
		if err != nil {
			return 0, err
		}
		return r.sk.Cookie(), nil
	})
	add(asm.FnGetNetnsCookie, "get_netns_cookie", func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
		return netnsCookie, nil
	})
	return h
}

// bpfSetsockopt is _bpf_setsockopt on a full socket: the options the
// kernel accepts are stored (and the buffer sizes, Nagle and keepalive
// applied to the connection); anything else is EINVAL.
func (sk *Socket) bpfSetsockopt(level, name int32, val []byte) int64 {
	if level == solSocket && name == soBindtodevice {
		return 0
	}
	if level == solTCP && name == tcpCongestion {
		return 0
	}
	if !sockOpsIntOpts[[2]int32{level, name}] {
		return -int64(errno.EINVAL)
	}
	if len(val) != 4 {
		return -int64(errno.EINVAL)
	}
	v := int32(binary.LittleEndian.Uint32(val))
	if (level == solSocket && name == skBPFCbFlags) || (level == solTCP && name == tcpBPFCbFlags) {
		if uint32(v)&^cbFlagAll != 0 {
			return -int64(errno.EINVAL)
		}
		sk.setCbFlags(uint32(v))
	}
	if c := sk.conn; c != nil {
		so := c.Raw().Endpoint().SocketOptions()
		switch [2]int32{level, name} {
		case [2]int32{solSocket, soRcvbuf}:
			so.SetReceiveBufferSize(2*int64(v), true)
		case [2]int32{solSocket, soSndbuf}:
			so.SetSendBufferSize(2*int64(v), true)
		case [2]int32{solSocket, soKeepalive}:
			so.SetKeepAlive(v != 0)
		case [2]int32{solTCP, tcpNodelay}:
			so.SetDelayOption(v == 0)
		}
	}
	sk.ops.mu.Lock()
	if sk.ops.opts == nil {
		sk.ops.opts = map[[2]int32]int32{}
	}
	sk.ops.opts[[2]int32{level, name}] = v
	sk.ops.mu.Unlock()
	return 0
}

// bpfGetsockopt is _bpf_getsockopt: stored integer options, the
// congestion control name, and no saved SYN.
func (sk *Socket) bpfGetsockopt(level, name int32, out []byte) int64 {
	switch {
	case level == solTCP && name == tcpCongestion:
		n := copy(out, "cubic\x00")
		clear(out[n:])
		return 0
	case level == solTCP && (name == tcpBPFSyn || name == tcpBPFSynIP || name == tcpBPFSynMac):
		return -int64(errno.ENOENT)
	}
	if !sockOpsIntOpts[[2]int32{level, name}] || len(out) != 4 {
		return -int64(errno.EINVAL)
	}
	sk.ops.mu.Lock()
	v := sk.ops.opts[[2]int32{level, name}]
	sk.ops.mu.Unlock()
	if (level == solSocket && name == skBPFCbFlags) || (level == solTCP && name == tcpBPFCbFlags) {
		v = int32(sk.ops.cbFlags.Load())
	}
	binary.LittleEndian.PutUint32(out, uint32(v))
	return 0
}
