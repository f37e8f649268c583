package runtime

import (
	"fmt"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/runtime/bpf"
	"github.com/skmsg/skmsg/vm"
)

// This file holds the SK_SKB helpers (sk_skb_func_proto): the packet
// helpers in their sk_skb variants, the redirects and the socket queries.
// Helpers the kernel offers but skmsg does not implement (sk_lookup_*,
// dynptrs) are absent from the allow-list, so a program calling them is
// refused at prepare time with the helper's name.

const (
	// skbMaxLen is BPF_SKB_MAX_LEN (SKB_MAX_ALLOC on x86-64: four pages
	// less the shared info).
	skbMaxLen = 16064
	// skbAdjustMax is the largest |len_diff| of bpf_skb_adjust_room.
	skbAdjustMax = 0xfff
	// overflowUID is what get_socket_uid returns without a full socket.
	overflowUID = 65534

	fnSkRedirectMap  = asm.FnSkRedirectMap
	fnSkRedirectHash = asm.FnSkRedirectHash
)

// skbArg checks that r1 is the running program's __sk_buff.
func skbArg(m *vm.Machine, r1 uint64, helper string) (*skbCtx, error) {
	st, ok := m.User.(*runState)
	if !ok {
		return nil, fmt.Errorf("%s: not running an sk_skb program", helper)
	}
	c, ok := st.skb.(*skbCtx)
	if !ok || c.mach != m || r1 != st.ctxAddr {
		return nil, fmt.Errorf("%s: argument 1 (%#x) is not the program's __sk_buff", helper, r1)
	}
	return c, nil
}

// makeLinear is skb_ensure_writable: the first n bytes become linear.
func (c *skbCtx) makeLinear(n int) bool {
	if n > len(c.buf) {
		return false
	}
	if n > c.linear {
		c.linear = n
	}
	c.mapPacket()
	return true
}

func skSkbHelpers(rt *Runtime) vm.Helpers {
	h := vm.Helpers{}
	add := func(id asm.BuiltinFunc, name string, fn vm.HelperFunc) {
		h[id] = vm.Helper{ID: id, Name: name, Fn: fn}
	}
	add(asm.FnSkbLoadBytes, "skb_load_bytes", func(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
		c, err := skbArg(m, r1, "skb_load_bytes")
		if err != nil {
			return 0, err
		}
		to, err := m.Bytes(r3, int(uint32(r4)), vm.PermWrite)
		if err != nil {
			return 0, fmt.Errorf("skb_load_bytes: destination: %w", err)
		}
		off, n := uint64(uint32(r2)), uint64(uint32(r4))
		if off > 0x7FFFFFFF || off+n > uint64(len(c.buf)) {
			clear(to)
			return negErrno(errno.EFAULT), nil
		}
		copy(to, c.buf[off:off+n])
		return 0, nil
	})
	add(asm.FnSkbStoreBytes, "skb_store_bytes", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		c, err := skbArg(m, r1, "skb_store_bytes")
		if err != nil {
			return 0, err
		}
		from, err := m.Bytes(r3, int(uint32(r4)), vm.PermRead)
		if err != nil {
			return 0, fmt.Errorf("skb_store_bytes: source: %w", err)
		}
		if r5&^3 != 0 { // BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH
			return negErrno(errno.EINVAL), nil
		}
		off, n := uint64(uint32(r2)), uint64(uint32(r4))
		if off > 0x7FFFFFFF || off+n > uint64(len(c.buf)) {
			return negErrno(errno.EFAULT), nil
		}
		c.own(0)
		copy(c.buf[off:off+n], from)
		c.makeLinear(int(off + n))
		return 0, nil
	})
	add(asm.FnSkbPullData, "skb_pull_data", func(m *vm.Machine, r1, r2, _, _, _ uint64) (uint64, error) {
		c, err := skbArg(m, r1, "skb_pull_data")
		if err != nil {
			return 0, err
		}
		n := uint64(uint32(r2))
		if n == 0 {
			n = uint64(c.linear)
		}
		if n > uint64(len(c.buf)) {
			return negErrno(errno.ENOMEM), nil
		}
		c.makeLinear(int(n))
		return 0, nil
	})
	add(asm.FnSkbChangeTail, "skb_change_tail", func(m *vm.Machine, r1, r2, r3, _, _ uint64) (uint64, error) {
		c, err := skbArg(m, r1, "skb_change_tail")
		if err != nil {
			return 0, err
		}
		newLen := uint32(r2)
		if r3 != 0 || newLen > skbMaxLen {
			return negErrno(errno.EINVAL), nil
		}
		old := len(c.buf)
		c.linear = old // __bpf_try_make_writable(skb, skb->len)
		switch {
		case int(newLen) > old:
			c.own(int(newLen) - old)
			c.buf = c.buf[:newLen]
			clear(c.buf[old:])
			c.linear = int(newLen)
		case int(newLen) < old:
			c.own(0)
			c.buf = c.buf[:newLen]
			c.linear = int(newLen)
		}
		c.mapPacket()
		return 0, nil
	})
	add(asm.FnSkbChangeHead, "skb_change_head", func(m *vm.Machine, r1, r2, r3, _, _ uint64) (uint64, error) {
		c, err := skbArg(m, r1, "skb_change_head")
		if err != nil {
			return 0, err
		}
		room := uint64(uint32(r2))
		newLen := uint64(len(c.buf)) + room
		if r3 != 0 || newLen > skbMaxLen {
			return negErrno(errno.EINVAL), nil
		}
		c.prepend(int(room))
		return 0, nil
	})
	add(asm.FnSkbAdjustRoom, "skb_adjust_room", func(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
		c, err := skbArg(m, r1, "skb_adjust_room")
		if err != nil {
			return 0, err
		}
		diff := int64(int32(r2))
		if r4 != 0 || uint32(r3) != 0 {
			return negErrno(errno.EINVAL), nil
		}
		abs := diff
		if abs < 0 {
			abs = -abs
		}
		if abs > skbAdjustMax {
			return negErrno(errno.EFAULT), nil
		}
		if diff >= 0 {
			c.prepend(int(diff))
			return 0, nil
		}
		if abs > int64(len(c.buf)) {
			return negErrno(errno.ENOMEM), nil
		}
		if int(abs) > c.linear {
			c.linear = int(abs)
		}
		c.buf = c.buf[abs:]
		c.linear -= int(abs)
		c.mapPacket()
		return 0, nil
	})
	add(asm.FnGetSocketCookie, "get_socket_cookie", func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
		c, err := skbArg(m, r1, "get_socket_cookie")
		if err != nil {
			return 0, err
		}
		return c.sk.Cookie(), nil
	})
	add(asm.FnGetSocketUid, "get_socket_uid", func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
		c, err := skbArg(m, r1, "get_socket_uid")
		if err != nil {
			return 0, err
		}
		if c.sk == nil {
			return overflowUID, nil
		}
		return uint64(uint32(rt.helpers.Env().UidGid)), nil
	})
	skRedirect := func(name string, hash bool) vm.HelperFunc {
		return func(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
			c, err := skbArg(m, r1, name)
			if err != nil {
				return 0, err
			}
			sk, err := rt.redirectTarget(m, name, r2, r3, r4, hash)
			if sk == nil || err != nil {
				return 0, err // SK_DROP, or a fault
			}
			c.redir, c.redirIngress = sk, r4&flagIngress != 0
			return 1, nil // SK_PASS
		}
	}
	add(fnSkRedirectMap, "sk_redirect_map", skRedirect("sk_redirect_map", false))
	add(fnSkRedirectHash, "sk_redirect_hash", skRedirect("sk_redirect_hash", true))
	add(asm.FnPerfEventOutput, "perf_event_output", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		c, err := skbArg(m, r1, "perf_event_output")
		if err != nil {
			return 0, err
		}
		mp, err := rt.helpers.MapArg(r2)
		if err != nil {
			return 0, fmt.Errorf("perf_event_output: %w", err)
		}
		pa, ok := mp.(*bpf.PerfArray)
		if !ok {
			return 0, fmt.Errorf("perf_event_output: map %s is not a perf event array", mp.Name())
		}
		data, err := m.Bytes(r4, int(r5), vm.PermRead)
		if err != nil {
			return 0, fmt.Errorf("perf_event_output: data: %w", err)
		}
		ctxLen := int(r3>>32) & 0xFFFFF
		if ctxLen > len(c.buf) {
			return negErrno(errno.EFAULT), nil
		}
		if ctxLen > 0 {
			data = append(append([]byte(nil), data...), c.buf[:ctxLen]...)
		}
		cpu := rt.helpers.Env().CPU
		n := 0
		if cpu != nil {
			n = cpu(m)
		}
		if e := pa.Output(n, r3, data, true); e != 0 {
			return negErrno(e), nil
		}
		return 0, nil
	})
	return h
}

// prepend adds n zero bytes in front (skb_push after skb_cow): they are
// linear.
func (c *skbCtx) prepend(n int) {
	if n == 0 {
		c.mapPacket()
		return
	}
	nb := make([]byte, len(c.buf)+n, len(c.buf)+n+64)
	copy(nb[n:], c.buf)
	c.buf = nb
	c.owned = true
	c.linear += n
	c.mapPacket()
}
