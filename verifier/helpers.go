package verifier

import (
	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/internal/helpers"
)

// Helper prototypes (struct bpf_func_proto) of the helpers sockmap
// programs may call, and which program type may call which
// (sk_msg_func_proto, sk_skb_func_proto, sock_ops_func_proto and the
// bpf_sk_base_func_proto / bpf_base_func_proto they fall back to, for a
// privileged loader).

type argType uint8

const (
	argDontCare argType = iota
	argAnything
	argConstMapPtr
	argMapKey
	argMapValue
	argUninitMapValue
	argMapValueOrNull
	argCtx
	argCtxOrNull
	argMemRdonly // read by the helper, size in the next argument
	argMemRdonlyOrNull
	argUninitMem // written by the helper, size in the next argument
	argUninitMemOrNull
	argConstSize
	argConstSizeOrZero
	argConstAllocSizeOrZero
	argSockCommon
	argBTFIDSockCommon
	argSocket
	argRingbufMemRelease
	argSockRelease
	argFunc
	argStackOrNull
	argConstStr
	argLong // 8 bytes the helper writes (strtol's result)
	argSpinLock
	argPercpuBTF
	argBTFPtr // a typed kernel pointer (a task_struct)
	argTimer
	argDynptr
)

type retType uint8

const (
	retInteger retType = iota
	retVoid
	retMapValueOrNull
	retSocketOrNullAcquire
	retSockCommonOrNullAcquire
	retSocketOrNull
	retTCPSockOrNull
	retRingbufMemOrNull
	retBTFIDOrNull
	retBTFID
)

type helperProto struct {
	name    string
	ret     retType
	args    [5]argType
	pktData bool // changes packet data: packet pointers are invalidated
	// gpl marks GPL-only helpers.
	gpl bool
	// callback: the argument index holding the callback and the range
	// its return value must be in.
	cbArg    int
	cbRetMax int64
}

func hp(name string, ret retType, args ...argType) *helperProto {
	p := &helperProto{name: name, ret: ret, cbArg: -1}
	copy(p.args[:], args)
	return p
}

var helperProtos = map[int32]*helperProto{
	1:   hp("map_lookup_elem", retMapValueOrNull, argConstMapPtr, argMapKey),
	2:   hp("map_update_elem", retInteger, argConstMapPtr, argMapKey, argMapValue, argAnything),
	3:   hp("map_delete_elem", retInteger, argConstMapPtr, argMapKey),
	5:   hp("ktime_get_ns", retInteger),
	6:   withGPL(hp("trace_printk", retInteger, argMemRdonly, argConstSize)),
	7:   hp("get_prandom_u32", retInteger),
	8:   hp("get_smp_processor_id", retInteger),
	9:   withPkt(hp("skb_store_bytes", retInteger, argCtx, argAnything, argMemRdonly, argConstSize, argAnything)),
	12:  hp("tail_call", retVoid, argCtx, argConstMapPtr, argAnything),
	14:  hp("get_current_pid_tgid", retInteger),
	15:  hp("get_current_uid_gid", retInteger),
	16:  hp("get_current_comm", retInteger, argUninitMem, argConstSize),
	17:  hp("get_cgroup_classid", retInteger),
	25:  hp("perf_event_output", retInteger, argCtx, argConstMapPtr, argAnything, argMemRdonly, argConstSizeOrZero),
	26:  hp("skb_load_bytes", retInteger, argCtx, argAnything, argUninitMem, argConstSize),
	35:  withGPL(hp("get_current_task", retInteger)),
	38:  withPkt(hp("skb_change_tail", retInteger, argCtx, argAnything, argAnything)),
	39:  withPkt(hp("skb_pull_data", retInteger, argCtx, argAnything)),
	42:  hp("get_numa_node_id", retInteger),
	43:  withPkt(hp("skb_change_head", retInteger, argCtx, argAnything, argAnything)),
	46:  hp("get_socket_cookie", retInteger, argCtx),
	47:  hp("get_socket_uid", retInteger, argCtx),
	49:  hp("setsockopt", retInteger, argCtx, argAnything, argAnything, argMemRdonly, argConstSize),
	50:  withPkt(hp("skb_adjust_room", retInteger, argCtx, argAnything, argAnything, argAnything)),
	52:  hp("sk_redirect_map", retInteger, argCtx, argConstMapPtr, argAnything, argAnything),
	53:  hp("sock_map_update", retInteger, argCtx, argConstMapPtr, argMapKey, argAnything),
	57:  hp("getsockopt", retInteger, argCtx, argAnything, argAnything, argUninitMem, argConstSize),
	59:  hp("sock_ops_cb_flags_set", retInteger, argCtx, argAnything),
	60:  hp("msg_redirect_map", retInteger, argCtx, argConstMapPtr, argAnything, argAnything),
	61:  hp("msg_apply_bytes", retInteger, argCtx, argAnything),
	62:  hp("msg_cork_bytes", retInteger, argCtx, argAnything),
	63:  withPkt(hp("msg_pull_data", retInteger, argCtx, argAnything, argAnything, argAnything)),
	70:  hp("sock_hash_update", retInteger, argCtx, argConstMapPtr, argMapKey, argAnything),
	71:  hp("msg_redirect_hash", retInteger, argCtx, argConstMapPtr, argMapKey, argAnything),
	72:  hp("sk_redirect_hash", retInteger, argCtx, argConstMapPtr, argMapKey, argAnything),
	80:  hp("get_current_cgroup_id", retInteger),
	81:  hp("get_local_storage", retMapValueOrNull, argConstMapPtr, argAnything),
	84:  hp("sk_lookup_tcp", retSocketOrNullAcquire, argCtx, argMemRdonly, argConstSize, argAnything, argAnything),
	85:  hp("sk_lookup_udp", retSocketOrNullAcquire, argCtx, argMemRdonly, argConstSize, argAnything, argAnything),
	86:  hp("sk_release", retInteger, argSockRelease),
	87:  hp("map_push_elem", retInteger, argConstMapPtr, argMapValue, argAnything),
	88:  hp("map_pop_elem", retInteger, argConstMapPtr, argUninitMapValue),
	89:  hp("map_peek_elem", retInteger, argConstMapPtr, argUninitMapValue),
	90:  withPkt(hp("msg_push_data", retInteger, argCtx, argAnything, argAnything, argAnything)),
	91:  withPkt(hp("msg_pop_data", retInteger, argCtx, argAnything, argAnything, argAnything)),
	95:  hp("sk_fullsock", retSocketOrNull, argSockCommon),
	96:  hp("tcp_sock", retTCPSockOrNull, argSockCommon),
	98:  hp("get_listener_sock", retSocketOrNull, argSockCommon),
	99:  hp("skc_lookup_tcp", retSockCommonOrNullAcquire, argCtx, argMemRdonly, argConstSize, argAnything, argAnything),
	105: hp("strtol", retInteger, argMemRdonly, argConstSize, argAnything, argLong),
	106: hp("strtoul", retInteger, argMemRdonly, argConstSize, argAnything, argLong),
	107: hp("sk_storage_get", retMapValueOrNull, argConstMapPtr, argBTFIDSockCommon, argMapValueOrNull, argAnything),
	108: hp("sk_storage_delete", retInteger, argConstMapPtr, argBTFIDSockCommon),
	112: withGPL(hp("probe_read_user", retInteger, argUninitMem, argConstSizeOrZero, argAnything)),
	113: withGPL(hp("probe_read_kernel", retInteger, argUninitMem, argConstSizeOrZero, argAnything)),
	114: withGPL(hp("probe_read_user_str", retInteger, argUninitMem, argConstSizeOrZero, argAnything)),
	115: withGPL(hp("probe_read_kernel_str", retInteger, argUninitMem, argConstSizeOrZero, argAnything)),
	118: hp("jiffies64", retInteger),
	120: hp("get_ns_current_pid_tgid", retInteger, argAnything, argAnything, argUninitMem, argConstSize),
	122: hp("get_netns_cookie", retInteger, argCtxOrNull),
	123: hp("get_current_ancestor_cgroup_id", retInteger, argAnything),
	125: hp("ktime_get_boot_ns", retInteger),
	130: hp("ringbuf_output", retInteger, argConstMapPtr, argMemRdonly, argConstSizeOrZero, argAnything),
	131: hp("ringbuf_reserve", retRingbufMemOrNull, argConstMapPtr, argConstAllocSizeOrZero, argAnything),
	132: hp("ringbuf_submit", retVoid, argRingbufMemRelease, argAnything),
	133: hp("ringbuf_discard", retVoid, argRingbufMemRelease, argAnything),
	134: hp("ringbuf_query", retInteger, argConstMapPtr, argAnything),
	136: hp("skc_to_tcp6_sock", retBTFIDOrNull, argBTFIDSockCommon),
	137: hp("skc_to_tcp_sock", retBTFIDOrNull, argBTFIDSockCommon),
	138: hp("skc_to_tcp_timewait_sock", retBTFIDOrNull, argBTFIDSockCommon),
	139: hp("skc_to_tcp_request_sock", retBTFIDOrNull, argBTFIDSockCommon),
	140: hp("skc_to_udp6_sock", retBTFIDOrNull, argBTFIDSockCommon),
	142: hp("load_hdr_opt", retInteger, argCtx, argUninitMem, argConstSize, argAnything),
	143: withPkt(hp("store_hdr_opt", retInteger, argCtx, argMemRdonly, argConstSize, argAnything)),
	144: hp("reserve_hdr_opt", retInteger, argCtx, argAnything, argAnything),
	158: withGPL(hp("get_current_task_btf", retBTFID)),
	160: hp("ktime_get_coarse_ns", retInteger),
	164: withCallback(hp("for_each_map_elem", retInteger, argConstMapPtr, argFunc, argStackOrNull, argAnything), 1, 1),
	165: hp("snprintf", retInteger, argUninitMemOrNull, argConstSizeOrZero, argConstStr, argMemRdonlyOrNull, argConstSizeOrZero),
	177: withGPL(hp("trace_vprintk", retInteger, argMemRdonly, argConstSize, argMemRdonlyOrNull, argConstSizeOrZero)),
	178: hp("skc_to_unix_sock", retBTFIDOrNull, argBTFIDSockCommon),
	181: withCallback(hp("loop", retInteger, argAnything, argFunc, argStackOrNull, argAnything), 1, 1),
	182: hp("strncmp", retInteger, argMemRdonly, argConstSize, argConstStr),
	195: hp("map_lookup_percpu_elem", retMapValueOrNull, argConstMapPtr, argMapKey, argAnything),
	196: hp("skc_to_mptcp_sock", retBTFIDOrNull, argBTFIDSockCommon),
	208: hp("ktime_get_tai_ns", retInteger),
	// Helpers skmsg does not model beyond their first argument.
	22:  hp("perf_event_read", retInteger, argConstMapPtr, argAnything),
	175: hp("task_pt_regs", retBTFID, argBTFPtr),
	176: hp("get_branch_snapshot", retInteger, argUninitMem, argConstSizeOrZero, argAnything),
	180: hp("find_vma", retInteger, argBTFPtr, argAnything, argFunc, argAnything, argAnything),
	194: hp("kptr_xchg", retInteger, argSpinLock, argAnything),
	199: hp("ringbuf_submit_dynptr", retVoid, argDynptr, argAnything),
	209: hp("user_ringbuf_drain", retInteger, argConstMapPtr, argFunc, argAnything, argAnything),
	210: hp("cgrp_storage_get", retMapValueOrNull, argConstMapPtr, argBTFPtr, argMapValueOrNull, argAnything),
	153: hp("per_cpu_ptr", retBTFIDOrNull, argPercpuBTF, argAnything),
	154: hp("this_cpu_ptr", retBTFID, argPercpuBTF),
	141: hp("get_task_stack", retInteger, argBTFPtr, argUninitMem, argConstSizeOrZero, argAnything),
	37:  hp("current_task_under_cgroup", retInteger, argConstMapPtr, argAnything),
	94:  hp("spin_unlock", retInteger, argSpinLock),
	93:  hp("spin_lock", retInteger, argSpinLock),
	149: withGPL(hp("snprintf_btf", retInteger, argUninitMem, argConstSize, argMemRdonly, argConstSize, argAnything)),
	169: hp("timer_init", retInteger, argTimer, argConstMapPtr, argAnything),
	198: hp("ringbuf_reserve_dynptr", retInteger, argConstMapPtr, argAnything, argAnything, argDynptr),
	201: hp("dynptr_read", retInteger, argUninitMem, argConstSizeOrZero, argDynptr, argAnything, argAnything),
	202: hp("dynptr_write", retInteger, argDynptr, argAnything, argMemRdonly, argConstSizeOrZero, argAnything),
}

// helperPktAccess are the helpers whose prototype has pkt_access: they
// may take packet pointers as arguments.
var helperPktAccess = map[int32]bool{1: true, 2: true, 3: true, 28: true, 84: true, 85: true, 99: true, 100: true, 110: true}

func withPkt(p *helperProto) *helperProto { p.pktData = true; return p }
func withGPL(p *helperProto) *helperProto { p.gpl = true; return p }
func withCallback(p *helperProto, arg int, retMax int64) *helperProto {
	p.cbArg, p.cbRetMax = arg, retMax
	return p
}

func helperHasCallback(id int32) bool {
	p := helperProtos[id]
	return p != nil && p.cbArg >= 0
}

// helperName is func_id_name: "bpf_map_lookup_elem".
func helperName(id int32) string {
	if p := helperProtos[id]; p != nil {
		return "bpf_" + p.name
	}
	if helpers.Known(asm.BuiltinFunc(id)) {
		return "bpf_" + helpers.Name(asm.BuiltinFunc(id))
	}
	return "unknown"
}

const maxHelperID = 212 // __BPF_FUNC_MAX_ID in Linux 6.18

// Helpers every privileged program may call (bpf_base_func_proto with
// CAP_BPF and CAP_PERFMON, and bpf_sk_base_func_proto).
var baseHelpers = []int32{1, 2, 3, 87, 88, 89, 195, 7, 8, 42, 12, 5, 125, 208, 130, 131, 132, 133, 134,
	164, 181, 182, 197, 198, 199, 200, 201, 202, 203, 14, 120,
	93, 94, 118, 153, 154, 169, 170, 171, 172, 105, 106, 194, 209, 210, 211, 186, 187,
	6, 35, 158, 112, 113, 114, 115, 149, 165, 175, 177,
	136, 137, 138, 139, 140, 178, 196, 160, 15, 16, 17, 80, 123}

func helperSet(extra ...int32) map[int32]bool {
	m := map[int32]bool{}
	for _, id := range baseHelpers {
		m[id] = true
	}
	for _, id := range extra {
		m[id] = true
	}
	return m
}

var (
	skMsgHelpers   = helperSet(60, 71, 61, 62, 63, 90, 91, 25, 107, 108, 122, 15, 80, 123, 17)
	skSkbHelpers   = helperSet(9, 26, 39, 38, 43, 50, 46, 47, 52, 72, 25, 84, 85, 86, 99)
	sockOpsHelpers = helperSet(49, 57, 59, 53, 70, 46, 25, 107, 108, 122, 142, 143, 144, 96, 81, 80, 123, 15)
)
