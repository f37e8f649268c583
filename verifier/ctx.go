package verifier

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/internal/helpers"
)

// progTypeRules are the per-program-type parts of the rules: context
// access (the is_valid_access functions of net/core/filter.c), direct
// packet writes, the helpers the type may call and the return range.
type progTypeRules struct {
	name     string
	ctxName  string
	ctx      func(off, size int, write, sx bool) (ptrResult, bool)
	pktWrite bool
	helpers  map[int32]bool
	// retRange, when set, is the range R0 must be in at exit.
	retRange *[2]int64
	hook     helpers.Hook
	hookOK   bool
}

type ptrResult struct {
	typ       regType
	maybeNull bool
}

var scalarResult = ptrResult{typ: scalarValue}

// allowed reports whether the type may call helper id: the kernel's
// table (internal/helpers, shared with the runtime) when it knows the
// hook, the lists here otherwise.
func (r *progTypeRules) allowed(id int32) bool {
	if r.hookOK {
		return helpers.Allowed(r.hook, asm.BuiltinFunc(id))
	}
	return r.helpers[id]
}

func (r *progTypeRules) ctxAccess(off, size int, write, sx bool, _ ebpf.AttachType) (ptrResult, bool) {
	return r.ctx(off, size, write, sx)
}

func rulesFor(t ebpf.ProgramType, at ebpf.AttachType) *progTypeRules {
	r := rulesForType(t)
	if r != nil {
		r.hook, r.hookOK = helpers.HookOf(t, at)
	}
	return r
}

func rulesForType(t ebpf.ProgramType) *progTypeRules {
	switch t {
	case ebpf.SkMsg:
		return &progTypeRules{name: "sk_msg", ctxName: "sk_msg_md", ctx: skMsgCtx, pktWrite: true, helpers: skMsgHelpers}
	case ebpf.SkSKB:
		return &progTypeRules{name: "sk_skb", ctxName: "__sk_buff", ctx: skSkbCtx, pktWrite: true, helpers: skSkbHelpers}
	case ebpf.SockOps:
		return &progTypeRules{name: "sock_ops", ctxName: "bpf_sock_ops", ctx: sockOpsCtx, helpers: sockOpsHelpers, retRange: &[2]int64{0, 1}}
	}
	return nil
}

// in reports whether off lies in the field [start, start+n).
func in(off, start, n int) bool { return off >= start && off < start+n }

// narrowOK is bpf_ctx_narrow_access_ok: a power-of-two load no wider
// than the field.
func narrowOK(size, field int) bool { return size <= field && size&(size-1) == 0 }

// sk_msg_md (sk_msg_is_valid_access).
func skMsgCtx(off, size int, write, _ bool) (ptrResult, bool) {
	if write || off%size != 0 {
		return scalarResult, false
	}
	switch {
	case in(off, 0, 8):
		return ptrResult{typ: ptrToPacket}, size == 8
	case in(off, 8, 8):
		return ptrResult{typ: ptrToPacketEnd}, size == 8
	case in(off, 72, 8):
		return ptrResult{typ: ptrToSocket}, size == 8
	case in(off, 16, 56):
		return scalarResult, size == 4
	}
	return scalarResult, false
}

// __sk_buff for SK_SKB (sk_skb_is_valid_access, then
// bpf_skb_is_valid_access).
func skSkbCtx(off, size int, write, sx bool) (ptrResult, bool) {
	switch {
	case in(off, 72, 4), in(off, 140, 4), in(off, 152, 8), in(off, 160, 4), in(off, 184, 8):
		return scalarResult, false
	}
	if write && !in(off, 44, 4) && !in(off, 32, 4) {
		return scalarResult, false
	}
	res := scalarResult
	switch {
	case in(off, 8, 4):
		return scalarResult, false
	case in(off, 76, 4):
		res = ptrResult{typ: ptrToPacket}
	case in(off, 80, 4):
		res = ptrResult{typ: ptrToPacketEnd}
	}
	if off < 0 || off >= 192 || off%size != 0 {
		return scalarResult, false
	}
	switch {
	case in(off, 48, 20):
		return res, off+size <= 68
	case in(off, 76, 4), in(off, 140, 4), in(off, 80, 4):
		return res, !sx && size == 4
	case in(off, 100, 32), in(off, 92, 4), in(off, 96, 4):
		return res, size == 4
	case in(off, 144, 8):
		return res, false
	case in(off, 168, 8):
		return ptrResult{typ: ptrToSockCommon, maybeNull: true}, !write && size == 8
	case off == 180, in(off, 181, 3):
		return res, false
	}
	if write {
		return res, size == 4
	}
	return res, narrowOK(size, 4)
}

// bpf_sock_ops (sock_ops_is_valid_access).
func sockOpsCtx(off, size int, write, _ bool) (ptrResult, bool) {
	if off < 0 || off >= 224 || off%size != 0 {
		return scalarResult, false
	}
	if write {
		return scalarResult, (off == 4 || off == 164) && size == 4
	}
	switch {
	case in(off, 168, 16):
		return scalarResult, size == 8
	case in(off, 184, 8):
		return ptrResult{typ: ptrToSocket, maybeNull: true}, size == 8
	case in(off, 192, 8):
		return ptrResult{typ: ptrToPacket}, size == 8
	case in(off, 200, 8):
		return ptrResult{typ: ptrToPacketEnd}, size == 8
	case off == 212:
		return scalarResult, narrowOK(size, 4)
	case in(off, 216, 8):
		return scalarResult, size == 8
	}
	return scalarResult, size == 4
}

// sockAccessOK checks reads through socket pointers
// (bpf_sock_is_valid_access, bpf_sock_common_is_valid_access,
// bpf_tcp_sock_is_valid_access).
func sockAccessOK(t regType, off, size int) bool {
	switch t {
	case ptrToSockCommon:
		if in(off, 8, 16) {
			return false
		}
		return bpfSockOK(off, size)
	case ptrToSocket:
		return bpfSockOK(off, size)
	case ptrToTCPSock:
		if off < 0 || off >= 112 || off%size != 0 {
			return false
		}
		if off == 80 || off == 88 {
			return size == 8
		}
		return size == 4
	}
	return false
}

func bpfSockOK(off, size int) bool {
	if off < 0 || off >= 80 || off%size != 0 {
		return false
	}
	switch {
	case off == 72, off == 4, off == 8, off == 12, off == 44, off == 76,
		in(off, 24, 4), in(off, 28, 16), in(off, 52, 4), in(off, 56, 16):
		return narrowOK(size, 4)
	case in(off, 48, 2):
		field := 2
		if size == 4 {
			field = 4
		}
		return narrowOK(size, field)
	case in(off, 50, 2):
		return false
	}
	return size == 4
}
