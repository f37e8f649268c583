package runtime

import (
	"github.com/cilium/ebpf/asm"
)

// unsupportedHelpers are the helpers the kernel lets some sockmap program
// type call (internal/helpers) that skmsg does not implement, with why. A
// program calling one is refused when it is prepared, with an error
// wrapping loader.ErrNotSupported, instead of the verifier's refusal: the
// program is valid, skmsg cannot run it. A test checks that every helper
// of the kernel's table is either implemented or listed here.
// skLookupWhy: on 6.18 a lookup from an sk_skb verdict returned NULL even
// for the segment's own tuple and for a listener's, most likely because the
// lookup reads its device index from the TCP control block left in the
// skb; skmsg cannot know that answer.
const skLookupWhy = "socket lookup by tuple is not emulated (from an sk_skb verdict the kernel's answer depends on the TCP control block the skb carries)"

var unsupportedHelpers = map[asm.BuiltinFunc]string{
	asm.FnSendSignal:             "it would signal the process running skmsg",
	asm.FnSendSignalThread:       "it would signal the process running skmsg",
	asm.FnCurrentTaskUnderCgroup: "cgroup array maps are not emulated",
	asm.FnGetTaskStack:           "there is no kernel stack to read",
	asm.FnSnprintfBtf:            "BTF-driven printing of kernel objects is not emulated",
	asm.FnPerCpuPtr:              "per-CPU kernel variables (__ksym) are not emulated",
	asm.FnThisCpuPtr:             "per-CPU kernel variables (__ksym) are not emulated",
	asm.FnTaskStorageGet:         "task storage maps are not emulated",
	asm.FnTaskStorageDelete:      "task storage maps are not emulated",
	asm.FnCgrpStorageGet:         "cgroup storage maps are not emulated",
	asm.FnCgrpStorageDelete:      "cgroup storage maps are not emulated",
	asm.FnTimerInit:              "BPF timers are not emulated",
	asm.FnTimerSetCallback:       "BPF timers are not emulated",
	asm.FnTimerStart:             "BPF timers are not emulated",
	asm.FnTimerCancel:            "BPF timers are not emulated",
	asm.FnTaskPtRegs:             "there are no task registers to read",
	asm.FnGetBranchSnapshot:      "there is no branch record to read",
	asm.FnFindVma:                "there is no process address space to search",
	asm.FnKptrXchg:               "kptrs are not emulated",
	asm.FnDynptrFromMem:          "dynptrs are not emulated",
	asm.FnRingbufReserveDynptr:   "dynptrs are not emulated",
	asm.FnRingbufSubmitDynptr:    "dynptrs are not emulated",
	asm.FnRingbufDiscardDynptr:   "dynptrs are not emulated",
	asm.FnDynptrRead:             "dynptrs are not emulated",
	asm.FnDynptrWrite:            "dynptrs are not emulated",
	asm.FnDynptrData:             "dynptrs are not emulated",
	asm.FnUserRingbufDrain:       "user ring buffers are not emulated",
	asm.FnSkLookupTcp:            skLookupWhy,
	asm.FnSkLookupUdp:            skLookupWhy,
	asm.FnSkcLookupTcp:           skLookupWhy,
	asm.FnSkRelease:              skLookupWhy,
	asm.FnGetLocalStorage:        "cgroup local storage maps are not emulated",
	asm.FnLoadHdrOpt:             "TCP header option callbacks are not emulated",
	asm.FnStoreHdrOpt:            "TCP header option callbacks are not emulated",
	asm.FnReserveHdrOpt:          "TCP header option callbacks are not emulated",
}
