package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/vm"
)

// Env is what the generic helpers need from the runtime. Zero fields get
// deterministic defaults.
type Env struct {
	// Registry resolves map arguments (required).
	Registry *Registry
	// Clock drives ktime_get_*_ns and jiffies64; default a FakeClock.
	Clock Clock
	// TAIOffset is added to the clock for ktime_get_tai_ns.
	TAIOffset uint64
	// Rand drives get_prandom_u32; default NewSeededRand(0).
	Rand Rand
	// CPU is the CPU a run executes on (per-CPU map values,
	// get_smp_processor_id, BPF_F_CURRENT_CPU); default 0.
	CPU func(m *vm.Machine) int
	// Printk receives each bpf_trace_printk line; default discard.
	Printk func(m *vm.Machine, msg string)
	// PidTgid and UidGid are what get_current_pid_tgid and
	// get_current_uid_gid return.
	PidTgid, UidGid uint64
	// Socket resolves a socket pointer argument (sk_storage helpers) to
	// the socket's identity; false when it names no full socket.
	Socket func(m *vm.Machine, sk uint64) (uint64, bool)
}

// ProgramMap lets a map implemented elsewhere (the runtime's sockmap and
// sockhash) serve the map helpers itself: it gets the raw arguments.
type ProgramMap interface {
	ProgLookup(m *vm.Machine, key []byte) (uint64, error)
	ProgUpdate(m *vm.Machine, key []byte, value, flags uint64) (uint64, error)
	ProgDelete(m *vm.Machine, key []byte) (uint64, error)
}

// Kernel clock constants: HZ and the jiffies start value.
const (
	HZ             = 1000
	tickNS         = 1_000_000_000 / HZ
	initialJiffies = uint64(1<<32 - 300*HZ)
)

// Helper IDs beyond those cilium/ebpf's asm package names.
const (
	fnKtimeGetTaiNs       asm.BuiltinFunc = 208
	fnMapLookupPercpuElem asm.BuiltinFunc = 195
)

// Helpers is the state shared by the generic helpers of one Env.
type Helpers struct {
	env     Env
	mu      sync.Mutex
	pending []pendingRec
}

type pendingRec struct {
	m    *vm.Machine
	addr uint64
	rb   *RingBuf
	rec  *ringRec
}

// negErrno returns -e as a helper result.
func negErrno(e syscall.Errno) uint64 { return uint64(-int64(e)) }

// BaseHelpers returns the helpers every program type here gets (the
// kernel's bpf_base_func_proto subset that makes sense without a kernel)
// and the state behind them.
func BaseHelpers(env Env) (vm.Helpers, *Helpers) {
	if env.Registry == nil {
		env.Registry = NewRegistry()
	}
	if env.Clock == nil {
		env.Clock = &FakeClock{Start: 1_000_000_000}
	}
	if env.Rand == nil {
		env.Rand = NewSeededRand(0)
	}
	if env.CPU == nil {
		env.CPU = func(*vm.Machine) int { return 0 }
	}
	h := &Helpers{env: env}
	hs := vm.Helpers{}
	add := func(id asm.BuiltinFunc, name string, fn vm.HelperFunc) {
		hs[id] = vm.Helper{ID: id, Name: name, Fn: fn}
	}
	add(asm.FnMapLookupElem, "map_lookup_elem", h.mapLookup)
	add(asm.FnMapUpdateElem, "map_update_elem", h.mapUpdate)
	add(asm.FnMapDeleteElem, "map_delete_elem", h.mapDelete)
	add(asm.FnMapPushElem, "map_push_elem", h.mapPush)
	add(asm.FnMapPopElem, "map_pop_elem", func(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
		return h.mapPopPeek(m, r1, r2, true)
	})
	add(asm.FnMapPeekElem, "map_peek_elem", func(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
		return h.mapPopPeek(m, r1, r2, false)
	})
	add(fnMapLookupPercpuElem, "map_lookup_percpu_elem", h.mapLookupPercpu)
	add(asm.FnKtimeGetNs, "ktime_get_ns", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return env.Clock.Now(), nil
	})
	add(asm.FnKtimeGetBootNs, "ktime_get_boot_ns", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return env.Clock.Now(), nil
	})
	add(asm.FnKtimeGetCoarseNs, "ktime_get_coarse_ns", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return env.Clock.Now() / tickNS * tickNS, nil
	})
	add(fnKtimeGetTaiNs, "ktime_get_tai_ns", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return env.Clock.Now() + env.TAIOffset, nil
	})
	add(asm.FnJiffies64, "jiffies64", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return initialJiffies + env.Clock.Now()/tickNS, nil
	})
	add(asm.FnGetPrandomU32, "get_prandom_u32", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return uint64(env.Rand.Uint32()), nil
	})
	add(asm.FnGetSmpProcessorId, "get_smp_processor_id", func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
		return uint64(env.CPU(m)), nil
	})
	add(asm.FnGetNumaNodeId, "get_numa_node_id", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return 0, nil
	})
	add(asm.FnGetCurrentPidTgid, "get_current_pid_tgid", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return env.PidTgid, nil
	})
	add(asm.FnGetCurrentUidGid, "get_current_uid_gid", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return env.UidGid, nil
	})
	add(asm.FnTracePrintk, "trace_printk", h.tracePrintk)
	add(asm.FnTraceVprintk, "trace_vprintk", h.traceVprintk)
	add(asm.FnSnprintf, "snprintf", h.snprintf)
	add(asm.FnGetNsCurrentPidTgid, "get_ns_current_pid_tgid", h.nsPidTgid)
	add(asm.FnTailCall, "tail_call", h.tailCall)
	add(asm.FnRingbufOutput, "ringbuf_output", h.ringbufOutput)
	add(asm.FnRingbufReserve, "ringbuf_reserve", h.ringbufReserve)
	add(asm.FnRingbufSubmit, "ringbuf_submit", func(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
		return h.ringbufCommit(m, r1, r2, false)
	})
	add(asm.FnRingbufDiscard, "ringbuf_discard", func(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
		return h.ringbufCommit(m, r1, r2, true)
	})
	add(asm.FnRingbufQuery, "ringbuf_query", h.ringbufQuery)
	add(asm.FnPerfEventOutput, "perf_event_output", h.perfEventOutput)
	add(asm.FnSkStorageGet, "sk_storage_get", h.skStorageGet)
	add(asm.FnSkStorageDelete, "sk_storage_delete", h.skStorageDelete)
	add(asm.FnProbeReadKernel, "probe_read_kernel", h.probeRead)
	add(asm.FnProbeReadKernelStr, "probe_read_kernel_str", h.probeRead)
	add(asm.FnStrncmp, "strncmp", h.strncmp)
	add(asm.FnStrtol, "strtol", func(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
		return h.strtox(m, r1, r2, r3, r4, true)
	})
	add(asm.FnStrtoul, "strtoul", func(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
		return h.strtox(m, r1, r2, r3, r4, false)
	})
	add(asm.FnLoop, "loop", h.loop)
	add(asm.FnForEachMapElem, "for_each_map_elem", h.forEachMapElem)
	add(asm.FnSpinLock, "spin_lock", spinHelper(spinLock))
	add(asm.FnSpinUnlock, "spin_unlock", spinHelper(spinUnlock))
	return hs, h
}

// spinHelper is bpf_spin_lock or bpf_spin_unlock: op on the 4-byte lock at
// r1.
func spinHelper(op func(lock []byte)) vm.HelperFunc {
	return func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
		b, err := m.Bytes(r1, 4, vm.PermRW)
		if err != nil {
			return 0, err
		}
		op(b)
		return 0, nil
	}
}

// Env returns the environment the helpers were made with (defaults
// filled in).
func (h *Helpers) Env() Env { return h.env }

// MapArg resolves a map argument; a value that is no map handle stops the
// program, as the verifier would have refused it.
func (h *Helpers) MapArg(v uint64) (Raw, error) {
	e, err := h.mapArg(v)
	if err != nil {
		return nil, err
	}
	return e.m, nil
}

func (h *Helpers) mapArg(v uint64) (*registered, error) {
	if e := h.env.Registry.lookup(v); e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("%#x is not a map", v)
}

// errNotForPrograms is what a helper says when the kernel's verifier would
// have rejected the call for this map type.
func errNotForPrograms(helper string, mp Raw) error {
	return fmt.Errorf("%s on %s map %s is rejected by the verifier", helper, mp.Type(), mp.Name())
}

// foreign reports maps whose values are not memory (sockets) and that do
// not serve the helpers themselves: a program's access to them has no
// meaning here.
func foreign(helper string, mp Raw) error {
	switch mp.Type() {
	case ebpf.SockMap, ebpf.SockHash, ebpf.ReusePortSockArray, ebpf.DevMap, ebpf.DevMapHash, ebpf.CPUMap, ebpf.XSKMap:
		return fmt.Errorf("%s on %s map %s: the map does not implement bpf.ProgramMap", helper, mp.Type(), mp.Name())
	}
	return nil
}

func (h *Helpers) valuePerm(mp Raw) vm.Perm {
	if mp.Flags()&FlagRdonlyProg != 0 {
		return vm.PermRead
	}
	return vm.PermRW
}

func (h *Helpers) valueRegion(m *vm.Machine, e *registered, v []byte) uint64 {
	return m.AddRegion(vm.Region{Name: e.regionName, Data: v, Perm: h.valuePerm(e.m)})
}

// mapKeyArg is the first two arguments of the map element helpers: the map
// in r1 and the key of its size at r2.
func (h *Helpers) mapKeyArg(m *vm.Machine, r1, r2 uint64) (*registered, []byte, error) {
	reg, err := h.mapArg(r1)
	if err != nil {
		return nil, nil, err
	}
	key, err := m.Bytes(r2, int(reg.m.KeySize()), vm.PermRead)
	if err != nil {
		return nil, nil, err
	}
	return reg, key, nil
}

func (h *Helpers) mapLookup(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
	reg, key, err := h.mapKeyArg(m, r1, r2)
	if err != nil {
		return 0, err
	}
	mp := reg.m
	switch t := mp.(type) {
	case ProgramMap:
		return t.ProgLookup(m, key)
	case *arrayOfMaps:
		return h.innerHandle(t.innerLookup(key))
	case *hashMap:
		if t.ofMaps {
			return h.innerHandle(t.innerLookup(key))
		}
	case *queueMap:
		return 0, nil // queue_stack_map_lookup_elem
	case *progArray, *RingBuf, *PerfArray, *SkStorage:
		return 0, errNotForPrograms("map_lookup_elem", mp)
	}
	if e, ok := mp.(elemOps); ok {
		v, en := e.progLookup(key, h.env.CPU(m))
		if en != 0 {
			return 0, nil
		}
		return h.valueRegion(m, reg, v), nil
	}
	if err := foreign("map_lookup_elem", mp); err != nil {
		return 0, err
	}
	v, err := mp.LookupBytes(key)
	if err != nil {
		return 0, nil
	}
	return h.valueRegion(m, reg, v), nil
}

func (h *Helpers) innerHandle(inner Map) (uint64, error) {
	if inner == nil {
		return 0, nil
	}
	return h.env.Registry.Add(inner)
}

func (h *Helpers) mapUpdate(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
	reg, key, err := h.mapKeyArg(m, r1, r2)
	if err != nil {
		return 0, err
	}
	mp := reg.m
	if t, ok := mp.(ProgramMap); ok {
		return t.ProgUpdate(m, key, r3, r4)
	}
	switch mp.(type) {
	case *queueMap:
		return negErrno(errno.EINVAL), nil
	case *progArray, *RingBuf, *PerfArray, *SkStorage, *arrayOfMaps:
		return 0, errNotForPrograms("map_update_elem", mp)
	}
	if mp.Flags()&FlagRdonlyProg != 0 {
		return 0, errNotForPrograms("map_update_elem", mp)
	}
	if err := foreign("map_update_elem", mp); err != nil {
		return 0, err
	}
	val, err := m.Bytes(r3, int(mp.ValueSize()), vm.PermRead)
	if err != nil {
		return 0, err
	}
	if e, ok := mp.(elemOps); ok {
		if r4&UpdateLock != 0 && !hasSpinLock(mp) {
			return negErrno(errno.EINVAL), nil
		}
		return negErrno(e.progUpdate(key, val, r4, h.env.CPU(m))), nil
	}
	return negErrno(Errno(mp.UpdateBytes(key, val, r4))), nil
}

func hasSpinLock(mp Raw) bool {
	b, ok := mp.(interface{ Spec() Spec })
	return ok && b.Spec().SpinLockOff != 0
}

func (h *Helpers) mapDelete(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
	reg, key, err := h.mapKeyArg(m, r1, r2)
	if err != nil {
		return 0, err
	}
	mp := reg.m
	if t, ok := mp.(ProgramMap); ok {
		return t.ProgDelete(m, key)
	}
	switch mp.(type) {
	case *queueMap:
		return negErrno(errno.EINVAL), nil
	case *progArray, *RingBuf, *PerfArray, *SkStorage, *arrayOfMaps:
		return 0, errNotForPrograms("map_delete_elem", mp)
	}
	if h, ok := mp.(*hashMap); ok && h.ofMaps {
		return 0, errNotForPrograms("map_delete_elem", mp)
	}
	if mp.Flags()&FlagRdonlyProg != 0 {
		return 0, errNotForPrograms("map_delete_elem", mp)
	}
	if err := foreign("map_delete_elem", mp); err != nil {
		return 0, err
	}
	if e, ok := mp.(elemOps); ok {
		return negErrno(e.progDelete(key)), nil
	}
	return negErrno(Errno(mp.DeleteBytes(key))), nil
}

// queueArg is the arguments of the queue and stack helpers: the map in r1,
// which must be a queue or a stack (the verifier refuses any other), and
// the value of its size at r2, read by a push and written by a pop or peek.
func (h *Helpers) queueArg(m *vm.Machine, r1, r2 uint64, helper string, perm vm.Perm) (*queueMap, []byte, error) {
	mp, err := h.MapArg(r1)
	if err != nil {
		return nil, nil, err
	}
	q, ok := mp.(*queueMap)
	if !ok {
		return nil, nil, errNotForPrograms(helper, mp)
	}
	val, err := m.Bytes(r2, int(mp.ValueSize()), perm)
	if err != nil {
		return nil, nil, err
	}
	return q, val, nil
}

func (h *Helpers) mapPush(m *vm.Machine, r1, r2, r3, _, _ uint64) (uint64, error) {
	q, val, err := h.queueArg(m, r1, r2, "map_push_elem", vm.PermRead)
	if err != nil {
		return 0, err
	}
	return negErrno(q.push(val, r3)), nil
}

func (h *Helpers) mapPopPeek(m *vm.Machine, r1, r2 uint64, pop bool) (uint64, error) {
	helper := "map_peek_elem"
	if pop {
		helper = "map_pop_elem"
	}
	q, out, err := h.queueArg(m, r1, r2, helper, vm.PermWrite)
	if err != nil {
		return 0, err
	}
	e := q.get(out, pop)
	if e != 0 {
		clear(out)
	}
	return negErrno(e), nil
}

func (h *Helpers) mapLookupPercpu(m *vm.Machine, r1, r2, r3, _, _ uint64) (uint64, error) {
	reg, err := h.mapArg(r1)
	if err != nil {
		return 0, err
	}
	mp := reg.m
	b, ok := mp.(interface {
		percpu() bool
		NumCPU() int
	})
	if !ok || !b.percpu() {
		return 0, errNotForPrograms("map_lookup_percpu_elem", mp)
	}
	key, err := m.Bytes(r2, int(mp.KeySize()), vm.PermRead)
	if err != nil {
		return 0, err
	}
	cpu := uint32(r3)
	if cpu >= uint32(b.NumCPU()) {
		return 0, nil
	}
	v, en := mp.(elemOps).progLookup(key, int(cpu))
	if en != 0 {
		return 0, nil
	}
	return h.valueRegion(m, reg, v), nil
}

func (h *Helpers) tailCall(m *vm.Machine, _, r2, r3, _, _ uint64) (uint64, error) {
	mp, err := h.MapArg(r2)
	if err != nil {
		return 0, err
	}
	pa, ok := mp.(ProgramSetter)
	if !ok {
		return 0, errNotForPrograms("tail_call", mp)
	}
	p := pa.Program(uint32(r3))
	if p == nil {
		return negErrno(errno.ENOENT), nil
	}
	if err := m.TailCall(p); err != nil {
		if errors.Is(err, vm.ErrTailCallLimit) {
			return negErrno(errno.E2BIG), nil
		}
		return 0, err
	}
	return 0, nil
}

func (h *Helpers) tracePrintk(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
	if r2 == 0 {
		return negErrno(errno.EINVAL), nil
	}
	f, err := m.Bytes(r1, int(uint32(r2)), vm.PermRead)
	if err != nil {
		return 0, err
	}
	end := -1
	for i, c := range f {
		if c == 0 {
			end = i
			break
		}
	}
	if end < 0 {
		return negErrno(errno.EINVAL), nil
	}
	s, e := formatPrintk(m, f[:end], []uint64{r3, r4, r5})
	if e != 0 {
		return negErrno(e), nil
	}
	if h.env.Printk != nil {
		h.env.Printk(m, s)
	}
	return uint64(len(s)), nil
}

// maxVarargs is MAX_BPRINTF_VARARGS: the most u64 arguments
// trace_vprintk and snprintf take.
const maxVarargs = 12

// varargs reads the u64 argument array of trace_vprintk and snprintf.
func varargs(m *vm.Machine, addr, n uint64) ([]uint64, syscall.Errno, error) {
	if n&7 != 0 || n > maxVarargs*8 || n != 0 && addr == 0 {
		return nil, errno.EINVAL, nil
	}
	if n == 0 {
		return nil, 0, nil
	}
	b, err := m.Bytes(addr, int(n), vm.PermRead)
	if err != nil {
		return nil, 0, err
	}
	args := make([]uint64, n/8)
	for i := range args {
		args[i] = binary.NativeEndian.Uint64(b[i*8:])
	}
	return args, 0, nil
}

// cFormat reads a format of at most size bytes that must hold its NUL.
func cFormat(m *vm.Machine, addr, size uint64) ([]byte, syscall.Errno, error) {
	if size == 0 {
		return nil, errno.EINVAL, nil
	}
	f, err := m.Bytes(addr, int(uint32(size)), vm.PermRead)
	if err != nil {
		return nil, 0, err
	}
	for i, c := range f {
		if c == 0 {
			return f[:i], 0, nil
		}
	}
	return nil, errno.EINVAL, nil
}

func (h *Helpers) traceVprintk(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
	args, e, err := varargs(m, r3, uint64(uint32(r4)))
	if err != nil || e != 0 {
		return negErrno(e), err
	}
	f, e, err := cFormat(m, r1, r2)
	if err != nil || e != 0 {
		return negErrno(e), err
	}
	s, e := formatPrintk(m, f, args)
	if e != 0 {
		return negErrno(e), nil
	}
	if h.env.Printk != nil {
		h.env.Printk(m, s)
	}
	return uint64(len(s)), nil
}

// snprintf is bpf_snprintf: the formatted length plus one is returned
// even when str is too small; str is always NUL-terminated unless empty.
func (h *Helpers) snprintf(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
	args, e, err := varargs(m, r4, uint64(uint32(r5)))
	if err != nil || e != 0 {
		return negErrno(e), err
	}
	// The format is a constant string of a read-only map (the verifier
	// checked its NUL).
	s, e := formatPrintk(m, []byte(readCString(m, r3, 1<<16)), args)
	if e != 0 {
		return negErrno(e), nil
	}
	if n := int(uint32(r2)); n > 0 {
		out, err := m.Bytes(r1, n, vm.PermWrite)
		if err != nil {
			return 0, err
		}
		c := copy(out[:n-1], s)
		out[c] = 0
	}
	return uint64(len(s) + 1), nil
}

// nsPidTgid is get_ns_current_pid_tgid: the configured ids for any
// namespace (there is one here).
func (h *Helpers) nsPidTgid(m *vm.Machine, _, _, r3, r4, _ uint64) (uint64, error) {
	if uint32(r4) != 8 {
		return negErrno(errno.EINVAL), nil
	}
	out, err := m.Bytes(r3, 8, vm.PermWrite)
	if err != nil {
		return 0, err
	}
	binary.NativeEndian.PutUint32(out, uint32(h.env.PidTgid))         // pid
	binary.NativeEndian.PutUint32(out[4:], uint32(h.env.PidTgid>>32)) // tgid
	return 0, nil
}

func (h *Helpers) ringbufArg(v uint64, helper string) (*RingBuf, error) {
	mp, err := h.MapArg(v)
	if err != nil {
		return nil, err
	}
	rb, ok := mp.(*RingBuf)
	if !ok {
		return nil, errNotForPrograms(helper, mp)
	}
	return rb, nil
}

func (h *Helpers) ringbufOutput(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
	rb, err := h.ringbufArg(r1, "ringbuf_output")
	if err != nil {
		return 0, err
	}
	data, err := m.Bytes(r2, int(r3), vm.PermRead)
	if err != nil {
		return 0, err
	}
	return negErrno(rb.output(data, r4)), nil
}

func (h *Helpers) ringbufReserve(m *vm.Machine, r1, r2, r3, _, _ uint64) (uint64, error) {
	rb, err := h.ringbufArg(r1, "ringbuf_reserve")
	if err != nil {
		return 0, err
	}
	if r3 != 0 {
		return 0, nil
	}
	rec := rb.reserve(r2)
	if rec == nil {
		return 0, nil
	}
	addr := m.AddRegion(vm.Region{Name: "ringbuf_record(" + rb.Name() + ")", Data: rec.data, Perm: vm.PermRW})
	h.mu.Lock()
	// An entry with the same machine and address is left over from an
	// earlier run: replace it.
	for i := range h.pending {
		if h.pending[i].m == m && h.pending[i].addr == addr {
			h.pending = append(h.pending[:i], h.pending[i+1:]...)
			break
		}
	}
	h.pending = append(h.pending, pendingRec{m: m, addr: addr, rb: rb, rec: rec})
	h.mu.Unlock()
	return addr, nil
}

func (h *Helpers) ringbufCommit(m *vm.Machine, r1, r2 uint64, discard bool) (uint64, error) {
	h.mu.Lock()
	var p pendingRec
	found := false
	for i := len(h.pending) - 1; i >= 0; i-- {
		if h.pending[i].m == m && h.pending[i].addr == r1 {
			p, found = h.pending[i], true
			h.pending = append(h.pending[:i], h.pending[i+1:]...)
			break
		}
	}
	h.mu.Unlock()
	if !found {
		return 0, fmt.Errorf("ringbuf submit/discard of %#x, which is no reserved record", r1)
	}
	p.rb.commit(p.rec, discard, r2)
	return 0, nil
}

func (h *Helpers) ringbufQuery(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
	rb, err := h.ringbufArg(r1, "ringbuf_query")
	if err != nil {
		return 0, err
	}
	return rb.query(r2), nil
}

// PerfEventOutput is the data-only bpf_perf_event_output (r2 map, r3
// flags, r4 data, r5 size); program types with a packet wrap it.
func (h *Helpers) perfEventOutput(m *vm.Machine, _, r2, r3, r4, r5 uint64) (uint64, error) {
	mp, err := h.MapArg(r2)
	if err != nil {
		return 0, err
	}
	pa, ok := mp.(*PerfArray)
	if !ok {
		return 0, errNotForPrograms("perf_event_output", mp)
	}
	data, err := m.Bytes(r4, int(r5), vm.PermRead)
	if err != nil {
		return 0, err
	}
	return negErrno(pa.Output(h.env.CPU(m), r3, data, false)), nil
}

func (h *Helpers) skStorageArg(v uint64, helper string) (*SkStorage, *registered, error) {
	reg, err := h.mapArg(v)
	if err != nil {
		return nil, nil, err
	}
	s, ok := reg.m.(*SkStorage)
	if !ok {
		return nil, nil, errNotForPrograms(helper, reg.m)
	}
	return s, reg, nil
}

func (h *Helpers) socket(m *vm.Machine, sk uint64) (uint64, bool) {
	if sk == 0 || h.env.Socket == nil {
		return 0, false
	}
	return h.env.Socket(m, sk)
}

func (h *Helpers) skStorageGet(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
	s, reg, err := h.skStorageArg(r1, "sk_storage_get")
	if err != nil {
		return 0, err
	}
	if r4 > 1 { // BPF_SK_STORAGE_GET_F_CREATE is the only flag
		return 0, nil
	}
	id, ok := h.socket(m, r2)
	if !ok {
		return 0, nil
	}
	var init []byte
	if r3 != 0 && r4 == 1 {
		if init, err = m.Bytes(r3, int(s.ValueSize()), vm.PermRead); err != nil {
			return 0, err
		}
	}
	v := s.Get(id, r4 == 1, init)
	if v == nil {
		return 0, nil
	}
	return h.valueRegion(m, reg, v), nil
}

func (h *Helpers) skStorageDelete(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
	s, _, err := h.skStorageArg(r1, "sk_storage_delete")
	if err != nil {
		return 0, err
	}
	id, ok := h.socket(m, r2)
	if !ok {
		return negErrno(errno.EINVAL), nil
	}
	return negErrno(s.DeleteSocket(id)), nil
}

// probeRead is probe_read_kernel(_str): there is no kernel memory here,
// so the destination is zeroed and the result is -EFAULT.
func (h *Helpers) probeRead(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
	n := int(uint32(r2))
	if n == 0 {
		return 0, nil
	}
	dst, err := m.Bytes(r1, n, vm.PermWrite)
	if err != nil {
		return 0, err
	}
	clear(dst)
	return negErrno(errno.EFAULT), nil
}

func (h *Helpers) strncmp(m *vm.Machine, r1, r2, r3, _, _ uint64) (uint64, error) {
	n := int(uint32(r2))
	var s1 []byte
	if n > 0 {
		var err error
		if s1, err = m.Bytes(r1, n, vm.PermRead); err != nil {
			return 0, err
		}
	}
	for i := 0; i < n; i++ {
		c2b, err := m.Bytes(r3+uint64(i), 1, vm.PermRead)
		if err != nil {
			return 0, err
		}
		c1, c2 := s1[i], c2b[0]
		if c1 != c2 {
			if c1 < c2 {
				return uint64(^uint64(0)), nil // -1
			}
			return 1, nil
		}
		if c1 == 0 {
			break
		}
	}
	return 0, nil
}

func (h *Helpers) strtox(m *vm.Machine, r1, r2, r3, r4 uint64, signed bool) (uint64, error) {
	n := int(uint32(r2))
	var buf []byte
	if n > 0 {
		var err error
		if buf, err = m.Bytes(r1, n, vm.PermRead); err != nil {
			return 0, err
		}
	}
	res, err := m.Bytes(r4, 8, vm.PermWrite)
	if err != nil {
		return 0, err
	}
	var v uint64
	var ret int64
	if signed {
		var sv int64
		sv, ret = strtol(buf, r3)
		v = uint64(sv)
	} else {
		v, ret = strtoul(buf, r3)
	}
	if ret < 0 {
		v = 0 // the kernel clears *res on failure
	}
	nativePut64(res, v)
	return uint64(ret), nil
}
