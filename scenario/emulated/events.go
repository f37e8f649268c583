package emulated

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/runtime/bpf"
	"github.com/skmsg/skmsg/scenario"
)

// isPerCPU says whether m keeps one value per CPU.
func isPerCPU(m bpf.Map) bool {
	switch m.Type() {
	case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// perCPUValue turns the one value of a scenario's update of a per-CPU map
// into what user space passes the kernel: the value for every CPU, each
// padded to 8 bytes. Other values pass unchanged (as do values of another
// size, which the map then refuses as the kernel would).
func perCPUValue(m bpf.Map, v []byte) []byte {
	ncpu, ok := m.(interface{ NumCPU() int })
	if !isPerCPU(m) || !ok || len(v) != int(m.ValueSize()) {
		return v
	}
	stride := (len(v) + 7) &^ 7
	out := make([]byte, stride*ncpu.NumCPU())
	for c := 0; c < ncpu.NumCPU(); c++ {
		copy(out[c*stride:], v)
	}
	return out
}

// closeUnreadPerfSlots empties the slots of the object's perf event
// arrays that no events step reads: on the kernel only a reader fills
// them with perf events, so without one a program's output gets ENOENT.
func (s *skmsgSession) closeUnreadPerfSlots(obj *scenario.Object) error {
	read := scenario.EventMaps(s.env.Scenario)
	for _, id := range obj.Maps {
		pa, ok := s.maps[id].(*bpf.PerfArray)
		if !ok || read[id] || s.perfClosed[id] {
			continue
		}
		if s.perfClosed == nil {
			s.perfClosed = map[scenario.MapID]bool{}
		}
		s.perfClosed[id] = true
		key := make([]byte, 4)
		for i := uint32(0); i < pa.MaxEntries(); i++ {
			binary.NativeEndian.PutUint32(key, i)
			if err := pa.DeleteBytes(key); err != nil && !errors.Is(err, errno.ENOENT) {
				return fmt.Errorf("emptying perf event array %s: %w", pa.Name(), err)
			}
		}
	}
	return nil
}

func (s *skmsgSession) MapLookupPerCPU(id scenario.MapID, key []byte) ([][]byte, error) {
	m, err := s.mapOf(id)
	if err != nil {
		return nil, err
	}
	if !isPerCPU(m) {
		return nil, fmt.Errorf("map %s is a %s, not a per-CPU map", m.Name(), m.Type())
	}
	raw, err := m.LookupBytes(key)
	if err != nil {
		return nil, err
	}
	size := int(m.ValueSize())
	stride := (size + 7) &^ 7
	var out [][]byte
	for off := 0; off+size <= len(raw); off += stride {
		out = append(out, append([]byte(nil), raw[off:off+size]...))
	}
	return out, nil
}

// Events drains the records of a ring buffer (committed, in producer
// order; discarded ones skipped) or of a perf event array (in output
// order). A perf record is what a perf reader gets from the kernel: the
// sample padded with zeros so that it and its 4-byte size end on 8 bytes.
func (s *skmsgSession) Events(id scenario.MapID) ([]scenario.Event, error) {
	m, err := s.mapOf(id)
	if err != nil {
		return nil, err
	}
	switch em := m.(type) {
	case *bpf.RingBuf:
		var out []scenario.Event
		for _, d := range em.Records() {
			out = append(out, scenario.Event{Data: d, CPU: -1})
		}
		return out, nil
	case *bpf.PerfArray:
		recs, lost := em.Records()
		if lost > 0 {
			return nil, fmt.Errorf("perf event array %s: %d records lost (more than %d unread)", m.Name(), lost, bpf.MaxPending)
		}
		out := make([]scenario.Event, 0, len(recs))
		for _, r := range recs {
			n := (len(r.Data)+4+7)&^7 - 4
			d := make([]byte, n)
			copy(d, r.Data)
			out = append(out, scenario.Event{Data: d, CPU: r.CPU})
		}
		return out, nil
	}
	return nil, fmt.Errorf("map %s is a %s: it has no records to read", m.Name(), m.Type())
}
