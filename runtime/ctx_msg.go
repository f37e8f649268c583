package runtime

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// struct sk_msg_md (80 bytes), as the kernel lays it out for x86-64.
const (
	skMsgMdSize        = 80
	skMsgOffData       = 0
	skMsgOffDataEnd    = 8
	skMsgOffFamily     = 16
	skMsgOffRemoteIP4  = 20
	skMsgOffLocalIP4   = 24
	skMsgOffRemoteIP6  = 28
	skMsgOffLocalIP6   = 44
	skMsgOffRemotePort = 60
	skMsgOffLocalPort  = 64
	skMsgOffSize       = 68
	skMsgOffSk         = 72
)

// struct bpf_sock (80 bytes).
const (
	bpfSockSize       = 80
	bpfSockOffFamily  = 4
	bpfSockOffType    = 8
	bpfSockOffProto   = 12
	bpfSockOffSrcIP4  = 24
	bpfSockOffSrcIP6  = 28
	bpfSockOffSrcPort = 44
	bpfSockOffDstPort = 48
	bpfSockOffDstIP4  = 52
	bpfSockOffDstIP6  = 56
	bpfSockOffState   = 72
	bpfSockOffRxQueue = 76
)

const (
	afInet  = 2
	afInet6 = 10
)

// checkSkMsgAccess is sk_msg_is_valid_access: the context is read-only;
// data, data_end and sk need exact 8-byte loads; the u32 fields exact
// 4-byte loads (no narrow loads); every other offset is refused.
func checkSkMsgAccess(pc int, off int32, size int, write, signExtend bool) error {
	if write {
		return fmt.Errorf("sk_msg_md is read-only: store of %d bytes at offset %d", size, off)
	}
	if off < 0 || off+int32(size) > skMsgMdSize {
		return fmt.Errorf("invalid sk_msg_md access off=%d size=%d", off, size)
	}
	if int(off)%size != 0 {
		return fmt.Errorf("misaligned sk_msg_md access off=%d size=%d", off, size)
	}
	switch {
	case off == skMsgOffData, off == skMsgOffDataEnd, off == skMsgOffSk:
		if size != 8 {
			return fmt.Errorf("invalid sk_msg_md access off=%d size=%d: %s needs an 8-byte load", off, size, skMsgField(off))
		}
		if signExtend {
			return fmt.Errorf("sign-extending load of pointer field %s (off=%d)", skMsgField(off), off)
		}
	case off >= skMsgOffFamily && off < skMsgOffSk:
		if size != 4 {
			return fmt.Errorf("invalid sk_msg_md access off=%d size=%d: %s needs a 4-byte load", off, size, skMsgField(off))
		}
	default:
		return fmt.Errorf("invalid sk_msg_md access off=%d size=%d", off, size)
	}
	return nil
}

func skMsgField(off int32) string {
	switch {
	case off == skMsgOffData:
		return "data"
	case off == skMsgOffDataEnd:
		return "data_end"
	case off == skMsgOffFamily:
		return "family"
	case off == skMsgOffRemoteIP4:
		return "remote_ip4"
	case off == skMsgOffLocalIP4:
		return "local_ip4"
	case off >= skMsgOffRemoteIP6 && off < skMsgOffLocalIP6:
		return "remote_ip6"
	case off >= skMsgOffLocalIP6 && off < skMsgOffRemotePort:
		return "local_ip6"
	case off == skMsgOffRemotePort:
		return "remote_port"
	case off == skMsgOffLocalPort:
		return "local_port"
	case off == skMsgOffSize:
		return "size"
	case off == skMsgOffSk:
		return "sk"
	}
	return "?"
}

// sockInfo is what the contexts expose of a socket: fixed at creation.
type sockInfo struct {
	family int
	local  netip.AddrPort
	remote netip.AddrPort
}

// fillAddrs writes family, remote/local ip4/ip6 and ports the way every
// socket context does (remote_port = htonl(port), local_port host order),
// at the given offsets.
func (si *sockInfo) fillMsgMd(b []byte) {
	binary.LittleEndian.PutUint32(b[skMsgOffFamily:], uint32(si.family))
	if si.family == afInet {
		r4 := si.remote.Addr().As4()
		l4 := si.local.Addr().As4()
		copy(b[skMsgOffRemoteIP4:], r4[:])
		copy(b[skMsgOffLocalIP4:], l4[:])
	} else {
		r6 := si.remote.Addr().As16()
		l6 := si.local.Addr().As16()
		copy(b[skMsgOffRemoteIP6:], r6[:])
		copy(b[skMsgOffLocalIP6:], l6[:])
	}
	binary.BigEndian.PutUint16(b[skMsgOffRemotePort+2:], si.remote.Port())
	binary.LittleEndian.PutUint32(b[skMsgOffLocalPort:], uint32(si.local.Port()))
}

// fillBpfSock writes struct bpf_sock; state is written per run.
func (si *sockInfo) fillBpfSock(b []byte) {
	binary.LittleEndian.PutUint32(b[bpfSockOffFamily:], uint32(si.family))
	binary.LittleEndian.PutUint32(b[bpfSockOffType:], 1)  // SOCK_STREAM
	binary.LittleEndian.PutUint32(b[bpfSockOffProto:], 6) // IPPROTO_TCP
	if si.family == afInet {
		l4 := si.local.Addr().As4()
		r4 := si.remote.Addr().As4()
		copy(b[bpfSockOffSrcIP4:], l4[:])
		copy(b[bpfSockOffDstIP4:], r4[:])
	} else {
		l6 := si.local.Addr().As16()
		r6 := si.remote.Addr().As16()
		copy(b[bpfSockOffSrcIP6:], l6[:])
		copy(b[bpfSockOffDstIP6:], r6[:])
	}
	binary.LittleEndian.PutUint32(b[bpfSockOffSrcPort:], uint32(si.local.Port()))
	binary.BigEndian.PutUint16(b[bpfSockOffDstPort:], si.remote.Port())
	binary.LittleEndian.PutUint32(b[bpfSockOffRxQueue:], 0xFFFFFFFF)
}

func newSockInfo(local, remote netip.AddrPort) sockInfo {
	fam := afInet6
	if local.Addr().Unmap().Is4() {
		fam = afInet
		local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
		remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	}
	return sockInfo{family: fam, local: local, remote: remote}
}
