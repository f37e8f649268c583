package runtime

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/vm"
)

// This file holds the helpers about the current task and its cgroup
// (bpf_base_func_proto's get_current_*, kernel/bpf/helpers.c and
// kernel/trace/bpf_trace.c), the perf event reads and the kernel memory
// reads, which every sockmap program type may call. On the kernel the
// programs of a scenario run in the context of the process that sends or
// receives, so "current" is this process: its comm and its cgroup, with
// the pid and tgid get_current_pid_tgid reports.

// currentHelpers are offered to every program type; the kernel's helper
// table (internal/helpers) decides which type may call which.
func currentHelpers(rt *Runtime) vm.Helpers {
	h := vm.Helpers{}
	add := func(id asm.BuiltinFunc, name string, fn vm.HelperFunc) {
		h[id] = vm.Helper{ID: id, Name: name, Fn: fn}
	}
	add(asm.FnGetCurrentComm, "get_current_comm", func(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
		// strscpy_pad: the name, NUL-padded to the buffer's size.
		buf, err := m.Bytes(r1, int(uint32(r2)), vm.PermWrite)
		if err != nil {
			return 0, err
		}
		clear(buf)
		if len(buf) > 0 {
			copy(buf[:len(buf)-1], processComm())
		}
		return 0, nil
	})
	add(asm.FnGetCurrentTask, "get_current_task", func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
		return runStateOf(m).currentTask(m)
	})
	add(asm.FnGetCurrentTaskBtf, "get_current_task_btf", func(m *vm.Machine, _, _, _, _, _ uint64) (uint64, error) {
		return runStateOf(m).currentTask(m)
	})
	add(asm.FnGetCurrentCgroupId, "get_current_cgroup_id", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		ids := currentCgroup()
		return ids[len(ids)-1], nil
	})
	add(asm.FnGetCurrentAncestorCgroupId, "get_current_ancestor_cgroup_id", func(_ *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
		// cgroup_ancestor: level 0 is the root; past the cgroup's own
		// level there is no ancestor.
		ids := currentCgroup()
		level := int64(int32(r1))
		if level < 0 || level >= int64(len(ids)) {
			return 0, nil
		}
		return ids[level], nil
	})
	// Without net_cls in use the class id is 0, for the socket's cgroup
	// (sk_skb) and the task's (sk_msg, sock_ops) alike.
	add(asm.FnGetCgroupClassid, "get_cgroup_classid", func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) {
		return 0, nil
	})
	// skmsg's perf event arrays never hold a perf event (user space can
	// only put perf event fds there), so every read finds an empty slot.
	add(asm.FnPerfEventRead, "perf_event_read", func(_ *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
		return rt.perfEventRead(r1, r2)
	})
	add(asm.FnPerfEventReadValue, "perf_event_read_value", func(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
		buf, err := m.Bytes(r3, int(uint32(r4)), vm.PermWrite)
		if err != nil {
			return 0, err
		}
		clear(buf)
		if len(buf) != perfEventValueSize {
			return negErrno(errno.EINVAL), nil
		}
		return rt.perfEventRead(r1, r2)
	})
	add(asm.FnProbeReadKernel, "probe_read_kernel", probeReadKernel(false))
	add(asm.FnProbeReadKernelStr, "probe_read_kernel_str", probeReadKernel(true))
	// There is no user memory behind any address a sockmap program can
	// hold: every user read faults, as a read of an unmapped user address
	// does on the kernel.
	add(asm.FnProbeReadUser, "probe_read_user", probeReadUser)
	add(asm.FnProbeReadUserStr, "probe_read_user_str", probeReadUser)
	return h
}

func runStateOf(m *vm.Machine) *runState {
	st, _ := m.User.(*runState)
	if st == nil {
		st = &runState{}
		m.User = st
	}
	return st
}

// perfEventValueSize is sizeof(struct bpf_perf_event_value).
const perfEventValueSize = 24

const (
	bpfFIndexMask  = 0xffffffff
	bpfFCurrentCPU = bpfFIndexMask
)

// perfEventRead is bpf_perf_event_read_local's answer for skmsg's perf
// event arrays: bad flags EINVAL, an index past the end E2BIG, else the
// slot is empty (ENOENT).
func (rt *Runtime) perfEventRead(r1, flags uint64) (uint64, error) {
	mp, err := rt.helpers.MapArg(r1)
	if err != nil {
		return 0, err
	}
	if mp.Type() != ebpf.PerfEventArray {
		return negErrno(errno.EINVAL), nil
	}
	if flags&^bpfFIndexMask != 0 {
		return negErrno(errno.EINVAL), nil
	}
	idx := flags & bpfFIndexMask
	if idx == bpfFCurrentCPU {
		idx = 0
	}
	if idx >= uint64(mp.MaxEntries()) {
		return negErrno(errno.E2BIG), nil
	}
	return negErrno(errno.ENOENT), nil
}

// probeReadKernel reads program-visible memory (the kernel objects of
// kernel_objects.go, the context, map values) as BPF_CORE_READ does. An
// address that maps nothing reads as an error with the buffer zeroed, as
// copy_from_kernel_nofault fails on the kernel: -ERANGE for an address in
// the user half (NULL and small offsets from it, which
// copy_from_kernel_nofault_allowed refuses on x86-64), -EFAULT above.
func probeReadKernel(str bool) vm.HelperFunc {
	return func(m *vm.Machine, r1, r2, r3, _, _ uint64) (uint64, error) {
		n := int(uint32(r2))
		if n == 0 {
			return 0, nil
		}
		dst, err := m.Bytes(r1, n, vm.PermWrite)
		if err != nil {
			return 0, err
		}
		if !str {
			src, err := m.Bytes(r3, n, vm.PermRead)
			if err != nil {
				clear(dst)
				return kernelReadFault(r3), nil
			}
			copy(dst, src)
			return 0, nil
		}
		// strncpy_from_kernel_nofault: up to n-1 bytes and a NUL; the
		// result counts the NUL.
		for i := 0; i < n; i++ {
			b, err := m.Bytes(r3+uint64(i), 1, vm.PermRead)
			if err != nil {
				clear(dst)
				return kernelReadFault(r3), nil
			}
			if b[0] == 0 || i == n-1 {
				dst[i] = 0
				return uint64(i + 1), nil
			}
			dst[i] = b[0]
		}
		return uint64(n), nil
	}
}

// userAddrEnd is where x86-64's user half ends (TASK_SIZE_MAX plus the
// guard page copy_from_kernel_nofault_allowed also refuses).
const userAddrEnd = 0x00007ffffffff000 + 4096

func kernelReadFault(addr uint64) uint64 {
	if addr < userAddrEnd {
		return negErrno(errno.ERANGE)
	}
	return negErrno(errno.EFAULT)
}

func probeReadUser(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
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
