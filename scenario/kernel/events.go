//go:build linux

package kernel

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/skmsg/skmsg/scenario"
)

// eventReader reads what the programs wrote to one event map.
type eventReader interface {
	// drain returns every record available now, without waiting.
	drain() ([]scenario.Event, error)
	Close() error
}

// perfBufferPages is each CPU's perf buffer: records between two events
// steps must fit (the reader reports what the kernel lost).
const perfBufferPages = 16

// openEventReaders opens a reader for every ring buffer and perf event
// array that an events step of the scenario reads and that has none yet.
// A perf event array only accepts output once a reader's perf events are
// in its slots, so this runs as soon as the maps exist, before any
// program does; arrays no step reads keep their slots empty (output to
// them fails with ENOENT, as without a reader).
func (s *session) openEventReaders() error {
	if s.readers == nil {
		s.readers = map[scenario.MapID]eventReader{}
	}
	read := scenario.EventMaps(s.env.Scenario)
	for id, m := range s.maps {
		if _, ok := s.readers[id]; ok || !read[id] {
			continue
		}
		switch m.Type() {
		case ebpf.RingBuf:
			r, err := ringbuf.NewReader(m)
			if err != nil {
				return fmt.Errorf("reading ring buffer %s: %w", m, err)
			}
			s.readers[id] = &ringReader{r}
		case ebpf.PerfEventArray:
			r, err := perf.NewReader(m, perfBufferPages*os.Getpagesize())
			if err != nil {
				return fmt.Errorf("reading perf event array %s: %w", m, err)
			}
			s.readers[id] = &perfReader{r}
		}
	}
	return nil
}

func (s *session) closeEventReaders() error {
	var errs []error
	for _, r := range s.readers {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// Events implements scenario.Session.
func (s *session) Events(id scenario.MapID) ([]scenario.Event, error) {
	r := s.readers[id]
	if r == nil {
		m, err := s.mapOf(id)
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("map %s is a %s: it has no records to read", m, m.Type())
	}
	return r.drain()
}

type ringReader struct{ *ringbuf.Reader }

func (r *ringReader) drain() ([]scenario.Event, error) {
	r.SetDeadline(time.Now())
	return drainRecords("ring buffer", func() (scenario.Event, error) {
		rec, err := r.Read()
		return scenario.Event{Data: rec.RawSample, CPU: -1}, err
	})
}

type perfReader struct{ *perf.Reader }

// drain reads each CPU's buffer in turn: records of different CPUs have
// no common order.
func (r *perfReader) drain() ([]scenario.Event, error) {
	r.SetDeadline(time.Now())
	return drainRecords("perf event array", func() (scenario.Event, error) {
		rec, err := r.Read()
		if err == nil && rec.LostSamples > 0 {
			err = fmt.Errorf("the kernel lost %d records on CPU %d (buffer of %d pages per CPU full)", rec.LostSamples, rec.CPU, perfBufferPages)
		}
		return scenario.Event{Data: rec.RawSample, CPU: rec.CPU}, err
	})
}

// drainRecords reads a reader whose deadline was set to now: it returns
// what is committed, then says the deadline passed (records submitted
// without a wakeup included).
func drainRecords(what string, read func() (scenario.Event, error)) ([]scenario.Event, error) {
	var out []scenario.Event
	for {
		ev, err := read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("reading the %s: %w", what, err)
		}
		out = append(out, ev)
	}
}

// MapLookupPerCPU implements scenario.Session.
func (s *session) MapLookupPerCPU(id scenario.MapID, key []byte) ([][]byte, error) {
	m, err := s.mapOf(id)
	if err != nil {
		return nil, err
	}
	n, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, err
	}
	vals := make([][]byte, n)
	if err := m.Lookup(key, vals); err != nil {
		return nil, err
	}
	return vals, nil
}

// perCPUValue is the one value of a scenario's update of a per-CPU map
// for every possible CPU, as cilium/ebpf takes it.
func perCPUValue(m *ebpf.Map, v []byte) (any, error) {
	switch m.Type() {
	case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
	default:
		return v, nil
	}
	n, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, err
	}
	vals := make([][]byte, n)
	for i := range vals {
		vals[i] = v
	}
	return vals, nil
}
