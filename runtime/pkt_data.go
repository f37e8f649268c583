package runtime

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// changesPktDataHelpers are the helpers the verifier counts as changing
// packet data (bpf_helper_changes_pkt_data): a program that calls one has
// its packet pointers invalidated after the call and, on the current
// kernel build, may not be a stream parser.
var changesPktDataHelpers = map[asm.BuiltinFunc]bool{
	asm.FnSkbStoreBytes:     true,
	asm.FnL3CsumReplace:     true,
	asm.FnL4CsumReplace:     true,
	asm.FnCloneRedirect:     true,
	asm.FnSkbVlanPush:       true,
	asm.FnSkbVlanPop:        true,
	asm.FnSkbChangeProto:    true,
	asm.FnSkbChangeTail:     true,
	asm.FnSkbPullData:       true,
	asm.FnSkbChangeHead:     true,
	asm.FnXdpAdjustHead:     true,
	asm.FnSkbAdjustRoom:     true,
	asm.FnXdpAdjustMeta:     true,
	asm.FnMsgPullData:       true,
	asm.FnLwtPushEncap:      true,
	asm.FnLwtSeg6StoreBytes: true,
	asm.FnLwtSeg6AdjustSrh:  true,
	asm.FnLwtSeg6Action:     true,
	asm.FnXdpAdjustTail:     true,
	asm.FnMsgPushData:       true,
	asm.FnMsgPopData:        true,
	asm.FnStoreHdrOpt:       true,
}

// changesPktData reports whether any instruction of the program (its
// subprograms included) calls a helper that changes packet data: the
// verifier's prog->aux->changes_pkt_data.
func changesPktData(insns asm.Instructions) bool {
	for _, ins := range insns {
		if ins.IsBuiltinCall() && changesPktDataHelpers[asm.BuiltinFunc(ins.Constant)] {
			return true
		}
	}
	return false
}

// parserRefused is the current build's check at attach (and link) time:
// a stream parser must not change packet data. The earlier build
// (KernelBuild.ParserMayPull) attached it.
func (rt *Runtime) parserRefused(prog *Program, a ebpf.AttachType) bool {
	return a == ebpf.AttachSkSKBStreamParser && prog.changesPktData && !rt.opts.Kernel.ParserMayPull
}
