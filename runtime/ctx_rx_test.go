package runtime

import (
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/loader"
)

func TestSkSkbAccess(t *testing.T) {
	tests := []struct {
		name        string
		off         int32
		size        int
		write, sext bool
		ok          bool
	}{
		{"len", skbOffLen, 4, false, false, true},
		{"len narrow", skbOffLen + 2, 2, false, false, true},
		{"len 8 bytes", skbOffLen, 8, false, false, false},
		{"len misaligned", skbOffLen + 1, 2, false, false, false},
		{"len store", skbOffLen, 4, true, false, false},
		{"mark load", skbOffMark, 4, false, false, false},
		{"mark store", skbOffMark, 4, true, false, false},
		{"priority store", skbOffPriority, 4, true, false, true},
		{"priority narrow store", skbOffPriority, 2, true, false, false},
		{"tc_index store", skbOffTcIndex, 4, true, false, true},
		{"cb load", skbOffCb + 4, 4, false, false, true},
		{"cb 8 bytes", skbOffCb + 8, 8, false, false, true},
		{"cb past end", skbOffCb + 16, 8, false, false, false},
		{"cb store", skbOffCb, 4, true, false, false},
		{"tc_classid", skbOffTcClassid, 4, false, false, false},
		{"data", skbOffData, 4, false, false, true},
		{"data narrow", skbOffData, 2, false, false, false},
		{"data sign-extended", skbOffData, 4, false, true, false},
		{"data_end", skbOffDataEnd, 4, false, false, true},
		{"remote_ip4", skbOffRemoteIP4, 4, false, false, true},
		{"remote_ip4 narrow", skbOffRemoteIP4, 2, false, false, false},
		{"local_ip6[3]", skbOffLocalIP6 + 12, 4, false, false, true},
		{"remote_port narrow", skbOffRemotePort + 2, 2, false, false, true},
		{"data_meta", skbOffDataMeta, 4, false, false, false},
		{"flow_keys", skbOffFlowKeys, 8, false, false, false},
		{"tstamp", skbOffTstamp, 8, false, false, false},
		{"wire_len", skbOffWireLen, 4, false, false, false},
		{"sk", skbOffSk, 8, false, false, true},
		{"sk 4 bytes", skbOffSk, 4, false, false, false},
		{"gso_size", skbOffGsoSize, 4, false, false, true},
		{"tstamp_type", skbOffTstampType, 1, false, false, false},
		{"padding", skbOffTstampType + 2, 2, false, false, false},
		{"hwtstamp", skbOffHwtstamp, 8, false, false, false},
		{"past the end", skbSize, 4, false, false, false},
		{"negative", -4, 4, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSkSkbAccess(0, tt.off, tt.size, tt.write, tt.sext)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), "off=")
		})
	}
}

func TestSockOpsAccess(t *testing.T) {
	tests := []struct {
		name  string
		off   int32
		size  int
		write bool
		ok    bool
	}{
		{"op", sockOpsOffOp, 4, false, true},
		{"op narrow", sockOpsOffOp, 2, false, false},
		{"reply store", sockOpsOffReply, 4, true, true},
		{"args[1] store", sockOpsOffArgs + 4, 4, true, false},
		{"args[3] load", sockOpsOffArgs + 12, 4, false, true},
		{"sk_txhash store", sockOpsOffTxhash, 4, true, true},
		{"state store", sockOpsOffState, 4, true, false},
		{"bytes_received", sockOpsOffBytesRcvd, 8, false, true},
		{"bytes_received 4", sockOpsOffBytesRcvd, 4, false, false},
		{"sk", sockOpsOffSk, 8, false, true},
		{"skb_data", sockOpsOffSkbData, 8, false, true},
		{"skb_tcp_flags narrow", sockOpsOffSkbFlags, 1, false, true},
		{"remote_port narrow", sockOpsOffRemotePort + 2, 2, false, false},
		{"past the end", sockOpsSize, 4, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSockOpsAccess(0, tt.off, tt.size, tt.write, false)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// TestSkbCtxLoads checks the values an __sk_buff load yields, narrow
// loads of 16-bit fields included.
func TestSkbCtxLoads(t *testing.T) {
	sk := &Socket{info: newSockInfo(netip.MustParseAddrPort("10.0.0.2:8080"), netip.MustParseAddrPort("10.0.0.1:5000"))}
	current := &skbCtx{st: &runState{rt: &Runtime{}}, sk: sk, buf: make([]byte, 30), data: 0x700000000, linear: 4}
	earlier := &skbCtx{st: &runState{rt: &Runtime{opts: Options{Kernel: KernelBuild{RemotePortWholeHalf: true}}}}, sk: sk, buf: make([]byte, 30), data: 0x700000000, linear: 4}
	tests := []struct {
		name string
		c    *skbCtx // nil: either build
		off  uint32
		size int
		want uint64
	}{
		{"len", nil, skbOffLen, 4, 30},
		{"len low byte", nil, skbOffLen, 1, 30},
		{"len high half", nil, skbOffLen + 2, 2, 0},
		{"data", nil, skbOffData, 4, 0x700000000},
		{"data_end", nil, skbOffDataEnd, 4, 0x700000004},
		{"family", nil, skbOffFamily, 4, afInet},
		{"remote_ip4", nil, skbOffRemoteIP4, 4, 0x0100000a},
		{"local_ip4", nil, skbOffLocalIP4, 4, 0x0200000a},
		{"remote_port", nil, skbOffRemotePort, 4, 0x88130000},
		// The builds differ here (see KernelBuild).
		{"remote_port upper half, current", current, skbOffRemotePort + 2, 2, 0x8813},
		{"remote_port lower half, current", current, skbOffRemotePort, 2, 0},
		{"remote_port byte 2, current", current, skbOffRemotePort + 2, 1, 0x13},
		{"remote_port byte 3, current", current, skbOffRemotePort + 3, 1, 0x88},
		{"remote_port upper half, earlier", earlier, skbOffRemotePort + 2, 2, 0x88130000},
		{"remote_port lower half, earlier", earlier, skbOffRemotePort, 2, 0x88130000},
		{"remote_port byte 1, earlier", earlier, skbOffRemotePort + 1, 1, 0},
		{"local_port", nil, skbOffLocalPort, 4, 8080},
		{"local_port upper half", nil, skbOffLocalPort + 2, 2, 8080},
		{"protocol", nil, skbOffProtocol, 4, 0x0008},
		{"cb", nil, skbOffCb, 8, 0},
		{"gso_segs", nil, skbOffGsoSegs, 4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if c == nil {
				c = current
			}
			v, err := c.Load(tt.off, tt.size)
			require.NoError(t, err)
			require.Equal(t, tt.want, v)
		})
	}
	require.NoError(t, current.Store(skbOffPriority, 4, 7))
	v, err := current.Load(skbOffPriority, 4)
	require.NoError(t, err)
	require.Equal(t, uint64(7), v)
	require.Error(t, current.Store(skbOffLen, 4, 1))
}

// TestRxHelperAllowLists checks that sk_skb and sock_ops programs get
// their helpers and that others are refused at prepare time by name.
func TestRxHelperAllowLists(t *testing.T) {
	prog := func(pt ebpf.ProgramType, fn asm.BuiltinFunc) *ebpf.CollectionSpec {
		return &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"p": {
			Name: "p", Type: pt, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R2, 0), fn.Call(), asm.Mov.Imm(asm.R0, 1), asm.Return()},
		}}}
	}
	tests := []struct {
		name   string
		pt     ebpf.ProgramType
		fn     asm.BuiltinFunc
		refuse string
	}{
		{"sk_skb pull_data", ebpf.SkSKB, asm.FnSkbPullData, ""},
		{"sk_skb socket cookie", ebpf.SkSKB, asm.FnGetSocketCookie, ""},
		{"sk_skb sk_lookup_tcp", ebpf.SkSKB, asm.FnSkLookupTcp, "sk_lookup_tcp"},
		{"sk_skb msg_apply_bytes", ebpf.SkSKB, asm.FnMsgApplyBytes, "msg_apply_bytes"},
		{"sk_skb sock_hash_update", ebpf.SkSKB, asm.FnSockHashUpdate, "sock_hash_update"},
		{"sock_ops cb_flags_set", ebpf.SockOps, asm.FnSockOpsCbFlagsSet, ""},
		{"sock_ops getsockopt", ebpf.SockOps, asm.FnGetsockopt, ""},
		{"sock_ops skb_load_bytes", ebpf.SockOps, asm.FnSkbLoadBytes, "skb_load_bytes"},
		{"sock_ops load_hdr_opt", ebpf.SockOps, asm.FnLoadHdrOpt, "load_hdr_opt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := loader.FromSpec(prog(tt.pt, tt.fn))
			require.NoError(t, err)
			// The programs pass no real arguments: this is about the
			// runtime's helper lists, not the static verifier.
			rt := New(Options{NoVerify: true})
			defer rt.Close()
			coll, err := rt.Load(obj)
			require.NoError(t, err)
			if tt.refuse == "" {
				require.Contains(t, coll.Programs, "p", "rejected: %v", coll.Rejected["p"])
				return
			}
			require.Contains(t, coll.Rejected, "p")
			require.Contains(t, coll.Rejected["p"].Error(), tt.refuse)
		})
	}
}
