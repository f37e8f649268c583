package runtime

import (
	"encoding/binary"
	"fmt"

	"github.com/skmsg/skmsg/vm"
)

// This file is struct __sk_buff as SK_SKB programs (stream parser, stream
// verdict, skb verdict) see it: the verifier's access rules
// (sk_skb_is_valid_access, bpf_skb_is_valid_access) checked at prepare
// time, and the context itself, an accessor region whose data/data_end
// fields turn 4-byte loads into full 64-bit packet pointers.

// struct __sk_buff (192 bytes), x86-64 layout.
const (
	skbSize          = 192
	skbOffLen        = 0
	skbOffPktType    = 4
	skbOffMark       = 8
	skbOffQueueMap   = 12
	skbOffProtocol   = 16
	skbOffVlanPres   = 20
	skbOffVlanTCI    = 24
	skbOffVlanProto  = 28
	skbOffPriority   = 32
	skbOffIngressIf  = 36
	skbOffIfindex    = 40
	skbOffTcIndex    = 44
	skbOffCb         = 48
	skbOffCbEnd      = 68
	skbOffHash       = 68
	skbOffTcClassid  = 72
	skbOffData       = 76
	skbOffDataEnd    = 80
	skbOffNapiID     = 84
	skbOffFamily     = 88
	skbOffRemoteIP4  = 92
	skbOffLocalIP4   = 96
	skbOffRemoteIP6  = 100
	skbOffLocalIP6   = 116
	skbOffRemotePort = 132
	skbOffLocalPort  = 136
	skbOffDataMeta   = 140
	skbOffFlowKeys   = 144
	skbOffTstamp     = 152
	skbOffWireLen    = 160
	skbOffGsoSegs    = 164
	skbOffSk         = 168
	skbOffGsoSize    = 176
	skbOffTstampType = 180
	skbOffHwtstamp   = 184
)

// skbFieldName names the __sk_buff field at off, for errors.
func skbFieldName(off int32) string {
	names := []struct {
		off  int32
		name string
	}{
		{skbOffLen, "len"}, {skbOffPktType, "pkt_type"}, {skbOffMark, "mark"},
		{skbOffQueueMap, "queue_mapping"}, {skbOffProtocol, "protocol"},
		{skbOffVlanPres, "vlan_present"}, {skbOffVlanTCI, "vlan_tci"},
		{skbOffVlanProto, "vlan_proto"}, {skbOffPriority, "priority"},
		{skbOffIngressIf, "ingress_ifindex"}, {skbOffIfindex, "ifindex"},
		{skbOffTcIndex, "tc_index"}, {skbOffCb, "cb"}, {skbOffHash, "hash"},
		{skbOffTcClassid, "tc_classid"}, {skbOffData, "data"},
		{skbOffDataEnd, "data_end"}, {skbOffNapiID, "napi_id"},
		{skbOffFamily, "family"}, {skbOffRemoteIP4, "remote_ip4"},
		{skbOffLocalIP4, "local_ip4"}, {skbOffRemoteIP6, "remote_ip6"},
		{skbOffLocalIP6, "local_ip6"}, {skbOffRemotePort, "remote_port"},
		{skbOffLocalPort, "local_port"}, {skbOffDataMeta, "data_meta"},
		{skbOffFlowKeys, "flow_keys"}, {skbOffTstamp, "tstamp"},
		{skbOffWireLen, "wire_len"}, {skbOffGsoSegs, "gso_segs"},
		{skbOffSk, "sk"}, {skbOffGsoSize, "gso_size"},
		{skbOffTstampType, "tstamp_type"}, {skbOffTstampType + 1, "padding"},
		{skbOffHwtstamp, "hwtstamp"},
	}
	name := "?"
	for _, n := range names {
		if off >= n.off {
			name = n.name
		}
	}
	return name
}

// checkSkSkbAccess is sk_skb_is_valid_access: what a load or store of the
// context at off may do, decided at prepare time.
func checkSkSkbAccess(pc int, off int32, size int, write, signExtend bool) error {
	bad := func(why string) error {
		kind := "load"
		if write {
			kind = "store"
		}
		return fmt.Errorf("invalid __sk_buff access off=%d size=%d (%s %s): %s", off, size, kind, skbFieldName(off), why)
	}
	if off < 0 || off >= skbSize {
		return bad("outside the 192-byte context")
	}
	switch {
	case off >= skbOffTcClassid && off < skbOffTcClassid+4,
		off >= skbOffDataMeta && off < skbOffDataMeta+4,
		off >= skbOffTstamp && off < skbOffTstamp+8,
		off >= skbOffWireLen && off < skbOffWireLen+4,
		off >= skbOffHwtstamp && off < skbOffHwtstamp+8:
		return bad("not accessible to sk_skb programs")
	}
	if write {
		if (off == skbOffPriority || off == skbOffTcIndex) && size == 4 {
			return nil
		}
		return bad("sk_skb programs may only store priority and tc_index, 4 bytes")
	}
	if off >= skbOffMark && off < skbOffMark+4 {
		return bad("mark is not readable by sk_skb programs")
	}
	if int(off)%size != 0 {
		return bad("misaligned")
	}
	switch {
	case off >= skbOffCb && off < skbOffCbEnd:
		if off+int32(size) > skbOffCbEnd {
			return bad("past the end of cb[]")
		}
	case off >= skbOffRemoteIP4 && off < skbOffRemotePort, off == skbOffData, off == skbOffDataEnd:
		if size != 4 {
			return bad("needs an exact 4-byte load")
		}
		if signExtend && (off == skbOffData || off == skbOffDataEnd) {
			return bad("sign-extending load of a packet pointer")
		}
	case off >= skbOffFlowKeys && off < skbOffFlowKeys+8:
		return bad("flow_keys is not accessible")
	case off == skbOffSk:
		if size != 8 {
			return bad("sk needs an 8-byte load")
		}
		if signExtend {
			return bad("sign-extending load of a pointer")
		}
	case off >= skbOffSk && off < skbOffSk+8:
		return bad("inside the sk pointer")
	case off >= skbOffTstampType && off < skbOffHwtstamp:
		return bad("tstamp_type and padding are not accessible")
	default:
		// Narrow loads (1, 2 or 4 bytes) of the u32 fields.
		if size > 4 {
			return bad("at most a 4-byte load")
		}
	}
	return nil
}

// skbCtx is the __sk_buff of one program run. It serves the context's
// loads (vm.Accessor) and carries what the skb helpers change: the packet
// bytes, their linear part, the redirect decision.
type skbCtx struct {
	st   *runState
	mach *vm.Machine
	sk   *Socket

	// buf holds the skb's bytes (for the strparser: from the start of the
	// segment where the message began); linear is how many of them
	// data..data_end exposes (0 for TCP's paged receive skbs until
	// bpf_skb_pull_data).
	buf    []byte
	linear int
	// owned is set once buf is a private copy the helpers may resize.
	owned bool
	// data is the packet region's base address (0 when linear is 0).
	data uint64

	priority uint32
	tcIndex  uint32

	// Set by bpf_sk_redirect_map/hash; cleared before each run.
	redir        *Socket
	redirIngress bool

	sockAddr uint64
	sock     [bpfSockSize]byte
}

// mapPacket exposes buf[:linear] as the packet region.
func (c *skbCtx) mapPacket() {
	if c.linear == 0 {
		c.data = 0
		return
	}
	c.data = c.mach.AddRegion(vm.Region{Name: "packet", Data: c.buf[:c.linear], Perm: vm.PermRW})
}

// own makes buf a private, resizable copy before a helper changes its
// length (the kernel's unclone/expand), keeping the packet region valid.
func (c *skbCtx) own(extra int) {
	if c.owned && cap(c.buf)-len(c.buf) >= extra {
		return
	}
	nb := make([]byte, len(c.buf), len(c.buf)+extra+64)
	copy(nb, c.buf)
	c.buf = nb
	c.owned = true
}

func (c *skbCtx) field(off uint32) (uint32, bool) {
	sk := c.sk
	switch off {
	case skbOffLen:
		return uint32(len(c.buf)), true
	case skbOffProtocol:
		// skb->protocol is a be16 EtherType kept in a u16.
		if sk.info.family == afInet6 {
			return 0xDD86, true
		}
		return 0x0008, true
	case skbOffPriority:
		return c.priority, true
	case skbOffTcIndex:
		return c.tcIndex, true
	case skbOffIngressIf:
		return 1, true // the loopback device
	case skbOffFamily:
		return uint32(sk.info.family), true
	case skbOffRemoteIP4, skbOffLocalIP4:
		if sk.info.family != afInet {
			return 0, true
		}
		a := sk.info.remote.Addr().As4()
		if off == skbOffLocalIP4 {
			a = sk.info.local.Addr().As4()
		}
		return binary.LittleEndian.Uint32(a[:]), true
	case skbOffRemotePort:
		var b [4]byte
		binary.BigEndian.PutUint16(b[2:], sk.info.remote.Port())
		return binary.LittleEndian.Uint32(b[:]), true
	case skbOffLocalPort:
		return uint32(sk.info.local.Port()), true
	case skbOffGsoSegs:
		return 1, true
	case skbOffHash:
		return sk.flowHash(), true
	}
	if off >= skbOffRemoteIP6 && off < skbOffRemotePort {
		if sk.info.family != afInet6 {
			return 0, true
		}
		a := sk.info.remote.Addr().As16()
		base := uint32(skbOffRemoteIP6)
		if off >= skbOffLocalIP6 {
			a = sk.info.local.Addr().As16()
			base = skbOffLocalIP6
		}
		i := off - base
		return binary.LittleEndian.Uint32(a[i : i+4]), true
	}
	if off >= skbOffCb && off < skbOffCbEnd {
		return 0, true // the program can only read its (zeroed) cb[]
	}
	if off < skbOffSk || off == skbOffGsoSize {
		return 0, true
	}
	return 0, false
}

// Load implements vm.Accessor.
func (c *skbCtx) Load(off uint32, size int) (uint64, error) {
	switch off {
	case skbOffData:
		return c.data, nil
	case skbOffDataEnd:
		return c.data + uint64(c.linear), nil
	case skbOffSk:
		return c.sockAddr, nil
	}
	if off >= skbOffCb && off < skbOffCbEnd && size == 8 {
		return 0, nil
	}
	base := off &^ 3
	v, ok := c.field(base)
	if !ok || size > 4 {
		return 0, fmt.Errorf("__sk_buff %s (off %d) cannot be loaded with %d bytes", skbFieldName(int32(off)), off, size)
	}
	if skbU16Field(base) && size <= 2 && (base != skbOffRemotePort || c.st.rt.opts.Kernel.RemotePortWholeHalf) {
		// The kernel converts these fields with a 2-byte load: a 2-byte
		// load at either half yields the converted value unshifted (for
		// remote_port on the earlier build that is port << 16), a 1-byte
		// load one of its two low bytes. The current build narrows
		// remote_port's converted value like any u32 field.
		if size == 2 {
			return uint64(v), nil
		}
		return uint64(v>>(8*(off&1))) & 0xFF, nil
	}
	v >>= 8 * (off - base)
	if size < 4 {
		v &= 1<<(8*size) - 1
	}
	return uint64(v), nil
}

// skbU16Field reports whether the kernel reads the field at off from a
// 16-bit member (the verifier's target size is 2).
func skbU16Field(off uint32) bool {
	switch off {
	case skbOffQueueMap, skbOffProtocol, skbOffVlanTCI, skbOffVlanProto,
		skbOffTcIndex, skbOffRemotePort, skbOffLocalPort, skbOffGsoSegs:
		return true
	}
	return false
}

// Store implements vm.Accessor: only priority and tc_index are writable.
func (c *skbCtx) Store(off uint32, size int, v uint64) error {
	switch {
	case off == skbOffPriority && size == 4:
		c.priority = uint32(v)
	case off == skbOffTcIndex && size == 4:
		c.tcIndex = uint32(v) & 0xFFFF
	default:
		return fmt.Errorf("__sk_buff %s (off %d) is read-only", skbFieldName(int32(off)), off)
	}
	return nil
}

// skbRunResult is what one sk_skb run leaves behind.
type skbRunResult struct {
	ret          uint64
	err          error
	redir        *Socket
	redirIngress bool
}

// runSkbProg runs an SK_SKB program over buf (the skb's bytes) for sk and
// reports the run to the observer under label(result) (one run at a time:
// rt.runMu). After the run, *out holds the (possibly changed) bytes: the
// same slice when no helper changed the length, else a new one.
func (rt *Runtime) runSkbProg(prog *Program, sk *Socket, buf []byte, out *[]byte, label func(skbRunResult) string) skbRunResult {
	rt.runMu.Lock()
	defer rt.runMu.Unlock()
	res := rt.runSkb(prog, sk, buf, out)
	rt.observeSkb(prog, sk, len(buf), res, label(res))
	return res
}

func (rt *Runtime) runSkb(prog *Program, sk *Socket, buf []byte, out *[]byte) skbRunResult {
	mp := &prog.coll.pool
	mach := mp.get()
	st := mach.User.(*runState)
	c, _ := st.skb.(*skbCtx)
	if c == nil {
		c = &skbCtx{st: st}
		st.skb = c
	}
	*c = skbCtx{st: st, mach: mach, sk: sk, buf: buf}
	st.sk = sk
	c.sock = sk.bpfSock
	binary.LittleEndian.PutUint32(c.sock[bpfSockOffState:], uint32(sk.State()))
	c.sockAddr = mach.AddRegion(vm.Region{Name: "bpf_sock", Data: c.sock[:], Perm: vm.PermRead})
	st.sockAddr = c.sockAddr
	st.ctxAddr = mach.AddRegion(vm.Region{Name: "__sk_buff", Access: c, Size: skbSize, Perm: vm.PermRW})
	c.mapPacket()
	if rt.opts.Tracer != nil {
		mach.SetTracer(rt.opts.Tracer)
	}
	ret, err := mach.Run(prog.VM, st.ctxAddr)
	res := skbRunResult{ret: ret, err: err, redir: c.redir, redirIngress: c.redirIngress}
	if out != nil {
		*out = c.buf
	}
	*c = skbCtx{st: st}
	st.sk = nil
	mp.put(mach)
	return res
}

// flowHash stands in for skb->hash, the flow hash the sender's socket
// stamped on the skb: the kernel's is random per connection; this one is
// a non-zero FNV-1a of the 4-tuple, so runs repeat.
func (sk *Socket) flowHash() uint32 {
	h := uint32(2166136261)
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint32(c)
			h *= 16777619
		}
	}
	r, l := sk.info.remote.Addr().As16(), sk.info.local.Addr().As16()
	mix(r[:])
	mix(l[:])
	mix([]byte{byte(sk.info.remote.Port() >> 8), byte(sk.info.remote.Port()), byte(sk.info.local.Port() >> 8), byte(sk.info.local.Port())})
	if h == 0 {
		h = 1
	}
	return h
}
