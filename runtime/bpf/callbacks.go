package bpf

import (
	"encoding/binary"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/skmsg/skmsg/vm"
)

// maxLoops is BPF_MAX_LOOPS, the most iterations bpf_loop runs.
const maxLoops = 1 << 23

// loop is bpf_loop (kernel/bpf/bpf_iter.c): callback(i, ctx) for i in
// [0, nr_loops) until it returns non-zero (the verifier keeps it to 0 or
// 1); the result is the number of calls made.
//
// With flags zero the kernel does not call the helper: the verifier inlines
// the loop (inline_bpf_loop, when the flags are a known zero and the
// callback constant, which is how programs call it), and the inlined code
// compares all 64 bits of nr_loops and returns -E2BIG with a 32-bit move,
// so r0 is 0xfffffff9. Without the verifier's knowledge a zero flags value
// is taken for the inlined form; non-zero flags reach the helper, whose
// -EINVAL is 64 bits.
func (h *Helpers) loop(m *vm.Machine, r1, fn, ctx, flags, _ uint64) (uint64, error) {
	if flags != 0 {
		return negErrno(errno.EINVAL), nil
	}
	if r1 > maxLoops {
		return uint64(uint32(negErrno(errno.E2BIG))), nil
	}
	n := uint32(r1)
	for i := uint32(0); i < n; i++ {
		ret, err := m.CallFunc(fn, uint64(i), ctx, 0, 0, 0)
		if err != nil {
			return ret, err
		}
		if ret != 0 {
			return uint64(i) + 1, nil
		}
	}
	return uint64(n), nil
}

// forEachMapElem is bpf_for_each_map_elem: callback(map, &key, &value,
// ctx) for each element (the running CPU's value of a per-CPU map) until it
// returns non-zero; the result is the number of elements visited, the one
// that stopped the walk included (arraymap.c bpf_for_each_array_elem,
// hashtab.c bpf_for_each_hash_elem). The key is read-only to the callback;
// the value is writable unless the map is BPF_F_RDONLY_PROG.
func (h *Helpers) forEachMapElem(m *vm.Machine, r1, fn, ctx, flags, _ uint64) (uint64, error) {
	reg, err := h.mapArg(r1)
	if err != nil {
		return 0, err
	}
	mp := reg.m
	// The types whose map_ops have map_for_each_callback: arrays and
	// hashes, per-CPU and LRU ones included, not maps of maps.
	switch t := mp.(type) {
	case *arrayMap:
	case *hashMap:
		if t.ofMaps {
			return 0, errNotForPrograms("for_each_map_elem", mp)
		}
	default:
		return 0, errNotForPrograms("for_each_map_elem", mp)
	}
	if flags != 0 {
		return negErrno(errno.EINVAL), nil
	}
	// One key buffer for the whole walk: AddRegion hands the same region
	// back for it, so a walk adds one region per value, not per key.
	key := make([]byte, mp.KeySize())
	keyRegion := vm.Region{Name: "map_key(" + mp.Name() + ")", Data: key, Perm: vm.PermRead}
	cpu := h.env.CPU(m)
	visit := func(v []byte) (bool, uint64, error) {
		keyAddr := m.AddRegion(keyRegion)
		ret, err := m.CallFunc(fn, r1, keyAddr, h.valueRegion(m, reg, v), ctx, 0)
		if err != nil {
			return true, ret, err
		}
		return ret != 0, 0, nil
	}
	var n uint64
	switch t := mp.(type) {
	case *arrayMap:
		if !t.percpu() {
			cpu = 0
		}
		for i := uint32(0); i < t.spec.MaxEntries; i++ {
			binary.NativeEndian.PutUint32(key, i)
			n++
			if stop, ret, err := visit(t.elem(cpu, i)); stop {
				if err != nil {
					return ret, err
				}
				break
			}
		}
	case *hashMap:
		// The callback may update and delete elements of the map: walk a
		// snapshot of the order and skip what is gone by the time its turn
		// comes, as the kernel's RCU walk of its buckets does.
		t.mu.RLock()
		ents := make([]*hentry, 0, len(t.elems))
		for e := t.head; e != nil; e = e.next {
			ents = append(ents, e)
		}
		t.mu.RUnlock()
		if !t.pcpu {
			cpu = 0
		}
		for _, e := range ents {
			t.mu.RLock()
			cur := t.elems[e.key]
			t.mu.RUnlock()
			if cur == nil {
				continue
			}
			copy(key, cur.key)
			n++
			if stop, ret, err := visit(cur.vals[cpu]); stop {
				if err != nil {
					return ret, err
				}
				break
			}
		}
	}
	return n, nil
}
