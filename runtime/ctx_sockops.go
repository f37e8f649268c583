package runtime

import (
	"encoding/binary"
	"fmt"
)

// This file is struct bpf_sock_ops as SOCK_OPS programs see it: the
// verifier's access rules (sock_ops_is_valid_access) and the context of
// one callback, filled like tcp_call_bpf fills it.

// struct bpf_sock_ops (224 bytes).
const (
	sockOpsSize          = 224
	sockOpsOffOp         = 0
	sockOpsOffArgs       = 4 // args[4] / reply / replylong[4]
	sockOpsOffReply      = 4
	sockOpsOffArgsEnd    = 20
	sockOpsOffFamily     = 20
	sockOpsOffRemoteIP4  = 24
	sockOpsOffLocalIP4   = 28
	sockOpsOffRemoteIP6  = 32
	sockOpsOffLocalIP6   = 48
	sockOpsOffRemotePort = 64
	sockOpsOffLocalPort  = 68
	sockOpsOffFullsock   = 72
	sockOpsOffSndCwnd    = 76
	sockOpsOffSrttUs     = 80
	sockOpsOffCbFlags    = 84
	sockOpsOffState      = 88
	sockOpsOffRttMin     = 92
	sockOpsOffSsthresh   = 96
	sockOpsOffRcvNxt     = 100
	sockOpsOffSndNxt     = 104
	sockOpsOffSndUna     = 108
	sockOpsOffMssCache   = 112
	sockOpsOffSegsIn     = 140
	sockOpsOffSegsOut    = 148
	sockOpsOffTxhash     = 164
	sockOpsOffBytesRcvd  = 168
	sockOpsOffBytesAcked = 176
	sockOpsOffSk         = 184
	sockOpsOffSkbData    = 192
	sockOpsOffSkbDataEnd = 200
	sockOpsOffSkbLen     = 208
	sockOpsOffSkbFlags   = 212
	sockOpsOffHwtstamp   = 216
)

// BPF_SOCK_OPS_* op codes.
const (
	opVoid               = 0
	opTimeoutInit        = 1
	opRwndInit           = 2
	opTCPConnectCB       = 3
	opActiveEstablished  = 4
	opPassiveEstablished = 5
	opNeedsECN           = 6
	opBaseRTT            = 7
	opRTOCB              = 8
	opRetransCB          = 9
	opStateCB            = 10
	opTCPListenCB        = 11
	opRTTCB              = 12
)

// Callback flags (bpf_sock_ops_cb_flags).
const (
	cbFlagRTO    = 0x1
	cbFlagRetran = 0x2
	cbFlagState  = 0x4
	cbFlagRTT    = 0x8
	cbFlagAll    = 0x7F
)

// checkSockOpsAccess is sock_ops_is_valid_access.
func checkSockOpsAccess(pc int, off int32, size int, write, signExtend bool) error {
	bad := func(why string) error {
		kind := "load"
		if write {
			kind = "store"
		}
		return fmt.Errorf("invalid bpf_sock_ops access off=%d size=%d (%s): %s", off, size, kind, why)
	}
	if off < 0 || off >= sockOpsSize {
		return bad("outside the 224-byte context")
	}
	if int(off)%size != 0 {
		return bad("misaligned")
	}
	if write {
		if (off == sockOpsOffReply || off == sockOpsOffTxhash) && size == 4 {
			return nil
		}
		return bad("only reply and sk_txhash are writable, with 4-byte stores")
	}
	switch off {
	case sockOpsOffBytesRcvd, sockOpsOffBytesAcked, sockOpsOffHwtstamp:
		if size != 8 {
			return bad("needs an 8-byte load")
		}
	case sockOpsOffSk, sockOpsOffSkbData, sockOpsOffSkbDataEnd:
		if size != 8 {
			return bad("pointer field needs an 8-byte load")
		}
		if signExtend {
			return bad("sign-extending load of a pointer")
		}
	case sockOpsOffSkbFlags:
		if size > 4 {
			return bad("at most a 4-byte load")
		}
	default:
		if size != 4 {
			return bad("needs an exact 4-byte load")
		}
	}
	return nil
}

// sockOpsArgs describe one callback.
type sockOpsArgs struct {
	op       uint32
	args     [4]uint32
	fullsock bool
	// state overrides the socket's state when non-zero (callbacks that
	// run mid-handshake: SYN_SENT for the connect callbacks, SYN_RECV for
	// PASSIVE_ESTABLISHED).
	state    TCPState
	tcpFlags uint32
}

// fillSockOps writes the context of one callback for sk.
func (sk *Socket) fillSockOps(b *[sockOpsSize]byte, a *sockOpsArgs, sockAddr uint64) {
	*b = [sockOpsSize]byte{}
	le := binary.LittleEndian
	le.PutUint32(b[sockOpsOffOp:], a.op)
	for i, v := range a.args {
		le.PutUint32(b[sockOpsOffArgs+4*i:], v)
	}
	si := &sk.info
	le.PutUint32(b[sockOpsOffFamily:], uint32(si.family))
	if si.family == afInet {
		r4, l4 := si.remote.Addr().As4(), si.local.Addr().As4()
		copy(b[sockOpsOffRemoteIP4:], r4[:])
		copy(b[sockOpsOffLocalIP4:], l4[:])
	} else {
		r6, l6 := si.remote.Addr().As16(), si.local.Addr().As16()
		copy(b[sockOpsOffRemoteIP6:], r6[:])
		copy(b[sockOpsOffLocalIP6:], l6[:])
	}
	binary.BigEndian.PutUint16(b[sockOpsOffRemotePort+2:], si.remote.Port())
	le.PutUint32(b[sockOpsOffLocalPort:], uint32(si.local.Port()))
	st := a.state
	if st == 0 {
		st = sk.State()
	}
	le.PutUint32(b[sockOpsOffState:], uint32(st))
	le.PutUint32(b[sockOpsOffSkbFlags:], a.tcpFlags)
	if !a.fullsock {
		return
	}
	le.PutUint32(b[sockOpsOffFullsock:], 1)
	le.PutUint64(b[sockOpsOffSk:], sockAddr)
	le.PutUint32(b[sockOpsOffCbFlags:], sk.ops.cbFlags.Load())
	if a.op > 15 {
		return // the timestamping callbacks do not hold the socket lock
	}
	// The same TCP state struct tcp_sock and bpf_tcp_sock show
	// (kernel_objects.go).
	ts := tcpStateOf(sk)
	le.PutUint32(b[sockOpsOffSndCwnd:], ts.sndCwnd)
	le.PutUint32(b[sockOpsOffSrttUs:], ts.srttUs)
	le.PutUint32(b[sockOpsOffSsthresh:], ts.sndSsthresh)
	le.PutUint32(b[sockOpsOffRcvNxt:], ts.rcvNxt)
	le.PutUint32(b[sockOpsOffSndNxt:], ts.sndNxt)
	le.PutUint32(b[sockOpsOffSndUna:], ts.sndUna)
	le.PutUint32(b[sockOpsOffSegsIn:], ts.segsIn)
	le.PutUint32(b[sockOpsOffSegsOut:], ts.segsOut)
	le.PutUint64(b[sockOpsOffBytesRcvd:], ts.bytesReceived)
	le.PutUint64(b[sockOpsOffBytesAcked:], ts.bytesAcked)
	le.PutUint32(b[sockOpsOffRttMin:], 0xFFFFFFFF)
}
