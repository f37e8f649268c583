package scenario

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"gopkg.in/yaml.v3"
)

// This file holds the observable results beyond sockets: the events step
// (records of ring buffers and perf event arrays) and lookups of per-CPU
// maps (sum: and values:), from parsing to running.

// MaxCPUs bounds the top-level cpus:.
const MaxCPUs = 1024

// Event is one record a program wrote to a ring buffer or perf event
// array.
type Event struct {
	Data []byte
	// CPU is the perf buffer the record came from (-1 for a ring buffer).
	CPU int
}

// IsEventMap says whether the map delivers records to user space instead
// of holding entries (a ring buffer or a perf event array).
func (m *MapDef) IsEventMap() bool {
	return m.Spec.Type == ebpf.RingBuf || m.Spec.Type == ebpf.PerfEventArray
}

// IsPerCPU says whether the map keeps one value per CPU.
func (m *MapDef) IsPerCPU() bool {
	switch m.Spec.Type {
	case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// EventMaps lists the maps an events step of sc reads: backends set up
// readers for these (which, for a perf event array, fills its slots).
func EventMaps(sc *Scenario) map[MapID]bool {
	out := map[MapID]bool{}
	if sc == nil {
		return out
	}
	for _, s := range sc.Steps {
		if s.Kind == StepEvents {
			out[s.Map] = true
		}
	}
	return out
}

// perCPUStride is the distance between two CPUs' values in the buffer
// of a per-CPU lookup from user space: each value padded to 8 bytes.
func perCPUStride(valueSize uint32) int { return int(valueSize+7) &^ 7 }

func (p *parser) events(s *Step, f fields, path string, need func(string) *yaml.Node) {
	if v := need("map"); v != nil {
		s.MapRef, _ = p.name(v, path+".map")
	}
	if v := f.get("records"); v != nil {
		s.Records = []Value{} // given, even if empty
		for i, e := range p.sequence(v, path+".records") {
			s.Records = append(s.Records, p.value(e, fmt.Sprintf("%s.records[%d]", path, i)))
		}
	}
	if v := f.get("count"); v != nil {
		if c, ok := p.integer(v, path+".count", 32); ok {
			if c < 0 {
				p.errorf(v, path+".count", "must not be negative")
			}
			s.Count = &c
		}
		if s.Records != nil {
			p.errorf(v, path+".count", "give either records or count, not both")
		}
	}
	if v := f.get("prefix"); v != nil {
		s.Prefix, _ = p.boolean(v, path+".prefix")
		if s.Records == nil {
			p.errorf(v, path+".prefix", "prefix applies to records")
		}
	}
	if s.Records == nil && s.Count == nil && f.node != nil {
		p.errorf(f.node, path, "missing field \"records\" or \"count\"")
	}
}

func (p *parser) perCPULookup(s *Step, f fields, path string) {
	if v := f.get("sum"); v != nil {
		val := p.value(v, path+".sum")
		s.Sum = &val
		if s.Value != nil || s.CookieOf != "" {
			p.errorf(v, path+".sum", "give one of value, sum, values or cookie_of")
		}
	}
	if v := f.get("values"); v != nil {
		s.Values = []Value{}
		for i, e := range p.sequence(v, path+".values") {
			s.Values = append(s.Values, p.value(e, fmt.Sprintf("%s.values[%d]", path, i)))
		}
		if s.Value != nil || s.CookieOf != "" || s.Sum != nil {
			p.errorf(v, path+".values", "give one of value, sum, values or cookie_of")
		}
	}
}

// validateEvents checks an events step against its map.
func (v *validator) validateEvents(s *Step, path string) {
	s.Map = v.lookupMap(s.MapRef, s.At("map"), path+".map")
	if s.Map == NoMap {
		return
	}
	if d := v.sc.MapDefs[s.Map]; !d.IsEventMap() {
		v.errorf(s.At("map"), path+".map", "map %s is a %s: events reads ring buffers and perf event arrays", d.Name, d.Spec.Type)
	}
}

// validatePerCPU checks the per-CPU parts of a lookup or update; it
// reports whether it checked the value's size itself.
func (v *validator) validatePerCPU(s *Step, d *MapDef, path string) bool {
	if !d.IsPerCPU() {
		if s.Sum != nil || s.Values != nil {
			field := "sum"
			if s.Values != nil {
				field = "values"
			}
			v.errorf(s.At(field), path+"."+field, "map %s is a %s, not a per-CPU map: compare its value with value:", d.Name, d.Spec.Type)
		}
		return false
	}
	if s.Kind == StepLookup && s.Value != nil {
		v.errorf(s.Value.Pos, path+".value", "map %s has a value per CPU: compare sum: (all CPUs added) or values: (one per CPU)", d.Name)
		return true
	}
	size := func(val *Value, field string) {
		if val.Bytes != nil && uint32(len(val.Bytes)) != d.Spec.ValueSize {
			v.errorf(val.Pos, path+"."+field, "%q is %d bytes; map %s has %d-byte values", val.Text, len(val.Bytes), d.Name, d.Spec.ValueSize)
		}
	}
	if s.Sum != nil {
		size(s.Sum, "sum")
		if s.Sum.Bytes != nil {
			if _, err := SumFields(s.Sum.Text, nil); err != nil {
				v.errorf(s.Sum.Pos, path+".sum", "%v", err)
			}
		}
	}
	for i := range s.Values {
		size(&s.Values[i], fmt.Sprintf("values[%d]", i))
	}
	return false
}

// events runs an events step.
func (r *runner) events(s *Step, obs *Observation) string {
	evs, err := r.sess.Events(s.Map)
	if err == nil {
		obs.Events = make([]HexBytes, len(evs))
		for i, e := range evs {
			obs.Events[i] = e.Data
		}
		n := int64(len(evs))
		obs.Ret = &n
	}
	if msg := outcome(err, s.Expect, obs); msg != "" || err != nil {
		return msg
	}
	if s.Count != nil && int64(len(evs)) != *s.Count {
		return fmt.Sprintf("expected %d records, got %d%s", *s.Count, len(evs), r.listRecords(s, evs))
	}
	if s.Records == nil {
		return ""
	}
	if len(evs) != len(s.Records) {
		return fmt.Sprintf("expected %d records, got %d%s", len(s.Records), len(evs), r.listRecords(s, evs))
	}
	for i, want := range s.Records {
		got := evs[i].Data
		ok := bytes.Equal(got, want.Bytes)
		if s.Prefix {
			ok = len(got) >= len(want.Bytes) && bytes.Equal(got[:len(want.Bytes)], want.Bytes)
		}
		if !ok {
			how := ""
			if s.Prefix && len(got) > len(want.Bytes) {
				how = " (prefix)"
			} else if !s.Prefix && len(got) > len(want.Bytes) && bytes.Equal(got[:len(want.Bytes)], want.Bytes) {
				how = fmt.Sprintf(" (the record has %d more bytes: prefix: true compares only the start)", len(got)-len(want.Bytes))
			}
			return fmt.Sprintf("record %d: expected %s, got %s%s", i, want.Text, FormatLike(want.Text, got), how)
		}
	}
	return ""
}

// listRecords shows the records seen, in the syntax of the first expected
// one when there is one.
func (r *runner) listRecords(s *Step, evs []Event) string {
	if len(evs) == 0 {
		return ""
	}
	like := ""
	if len(s.Records) > 0 {
		like = s.Records[0].Text
	}
	var b strings.Builder
	b.WriteString(":")
	for i, e := range evs {
		if i == 8 {
			fmt.Fprintf(&b, "\n  … %d more", len(evs)-i)
			break
		}
		text := "hex:" + fmt.Sprintf("%x", e.Data)
		if like != "" {
			text = FormatLike(like, e.Data)
		}
		fmt.Fprintf(&b, "\n  record %d: %s", i, text)
	}
	return b.String()
}

// lookupPerCPU runs a lookup of a per-CPU map: the observed value is the
// sum of all CPUs (what compares across backends with different CPU
// counts), the per-CPU values are kept too.
func (r *runner) lookupPerCPU(s *Step, d *MapDef, obs *Observation) string {
	vals, err := r.sess.MapLookupPerCPU(s.Map, s.Key.Bytes)
	if err == nil {
		obs.Values = make([]HexBytes, len(vals))
		for i, v := range vals {
			obs.Values[i] = v
		}
		obs.Value = SumWords(vals, int(d.Spec.ValueSize))
	}
	if msg := outcome(err, s.Expect, obs); msg != "" || err != nil {
		return msg
	}
	switch {
	case s.Sum != nil:
		sum, err := SumFields(s.Sum.Text, vals)
		if err != nil {
			return err.Error()
		}
		obs.Value = sum
		if !bytes.Equal(sum, s.Sum.Bytes) {
			return fmt.Sprintf("expected the sum over %d CPUs %s, got %s", len(vals), s.Sum.Text, FormatLike(s.Sum.Text, sum))
		}
	case s.Values != nil:
		if len(vals) != len(s.Values) {
			return fmt.Sprintf("expected values of %d CPUs, the map has %d (sum: compares whatever the CPU count)", len(s.Values), len(vals))
		}
		for i, want := range s.Values {
			if !bytes.Equal(vals[i], want.Bytes) {
				return fmt.Sprintf("CPU %d: expected %s, got %s", i, want.Text, FormatLike(want.Text, vals[i]))
			}
		}
	}
	return ""
}
