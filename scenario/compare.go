package scenario

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Difference is one observation on which two backends disagree.
type Difference struct {
	Phase  Phase  `json:"phase"`
	Number int    `json:"step"`
	Line   int    `json:"line"`
	Kind   string `json:"kind"`
	What   string `json:"what"` // ret, errno, data, eof, value, map
	A      string `json:"a"`
	B      string `json:"b"`
}

func (d Difference) String() string {
	where := fmt.Sprintf("step %d (line %d) %s", d.Number, d.Line, d.Kind)
	switch d.Phase {
	case PhaseSetup:
		where = fmt.Sprintf("setup (line %d) %s", d.Line, d.Kind)
	case PhaseMaps:
		where = fmt.Sprintf("maps[%d] (line %d) %s", d.Number, d.Line, d.Kind)
	case "":
		where = "final map contents"
	}
	return fmt.Sprintf("%s: %s differs:\n  a: %s\n  b: %s", where, d.What, d.A, d.B)
}

// Comparison is the outcome of running one scenario on two backends.
type Comparison struct {
	A, B        *Result
	Differences []Difference
}

// Same says whether the backends agreed on every observation.
func (c *Comparison) Same() bool { return len(c.Differences) == 0 }

// Compare runs a scenario on two backends (one after the other, each in its
// own session) and lists, step by step, where their observations differ:
// return values and errnos, bytes received per socket, end of stream, map
// lookups, and every map's contents at the end. Sockets are compared by
// name, so cookies that differ between backends but name the same socket
// agree.
func Compare(sc *Scenario, a, b Backend, opts Options) (*Comparison, error) {
	ra, err := Run(sc, a, opts)
	if err != nil {
		return nil, err
	}
	rb, err := Run(sc, b, opts)
	if err != nil {
		return nil, err
	}
	return &Comparison{A: ra, B: rb, Differences: Diff(ra, rb)}, nil
}

// Diff compares two results of the same scenario.
func Diff(ra, rb *Result) []Difference {
	var out []Difference
	type key struct {
		p Phase
		n int
	}
	bySteps := map[key]*StepResult{}
	for i := range rb.Steps {
		s := &rb.Steps[i]
		bySteps[key{s.Phase, s.Number}] = s
	}
	for i := range ra.Steps {
		sa := &ra.Steps[i]
		sb, ok := bySteps[key{sa.Phase, sa.Number}]
		add := func(what, a, b string) {
			out = append(out, Difference{Phase: sa.Phase, Number: sa.Number, Line: sa.Line, Kind: sa.Kind, What: what, A: a, B: b})
		}
		if !ok {
			add("presence", "ran", "did not run")
			continue
		}
		oa, ob := &sa.Obs, &sb.Obs
		if oa.Errno != ob.Errno {
			add("errno", orNone(oa.Errno), orNone(ob.Errno))
		}
		if ptrStr(oa.Ret) != ptrStr(ob.Ret) && sa.Kind != "recv" {
			add("ret", ptrStr(oa.Ret), ptrStr(ob.Ret))
		}
		if sa.Kind == "recv" && !bytes.Equal(oa.Data, ob.Data) {
			add("data", fmt.Sprintf("%d bytes", len(oa.Data)), fmt.Sprintf("%d bytes\n%s", len(ob.Data), indent(DiffBytes(oa.Data, ob.Data))))
		}
		if ptrStr(oa.EOF) != ptrStr(ob.EOF) {
			add("eof", ptrStr(oa.EOF), ptrStr(ob.EOF))
		}
		if oa.CookieOf != "" || ob.CookieOf != "" {
			if oa.CookieOf != ob.CookieOf {
				add("value", cookieStr(oa.CookieOf, oa.Value), cookieStr(ob.CookieOf, ob.Value))
			}
		} else if !bytes.Equal(oa.Value, ob.Value) {
			add("value", fmt.Sprintf("%x", []byte(oa.Value)), fmt.Sprintf("%x", []byte(ob.Value)))
		}
		if a, b := eventsString(oa.Events), eventsString(ob.Events); a != b {
			add("events", a, b)
		}
	}
	dumps := map[string]MapDump{}
	for _, d := range rb.Maps {
		dumps[d.Map] = d
	}
	for _, da := range ra.Maps {
		db := dumps[da.Map]
		if a, b := dumpString(da), dumpString(db); a != b {
			out = append(out, Difference{Kind: da.Map, What: "map " + da.Map, A: a, B: b})
		}
	}
	return out
}

// eventsString lists records for a difference.
func eventsString(evs []HexBytes) string {
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = fmt.Sprintf("hex:%x", []byte(e))
	}
	return fmt.Sprintf("%d records [%s]", len(evs), strings.Join(parts, ", "))
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n     ") }

func orNone(s string) string {
	if s == "" {
		return "success"
	}
	return s
}

func ptrStr[T any](p *T) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func cookieStr(name string, v []byte) string {
	if name != "" {
		return "cookie of " + name
	}
	return fmt.Sprintf("%x", v)
}

// dumpString is a map's contents in key order, sockets by name.
func dumpString(d MapDump) string {
	if d.Error != "" {
		return "error: " + d.Error
	}
	lines := make([]string, 0, len(d.Entries))
	for _, e := range d.Entries {
		v := fmt.Sprintf("%x", []byte(e.Value))
		if e.CookieOf != "" {
			v = "cookie of " + e.CookieOf
		}
		if e.InnerMap {
			v = "a map"
		}
		lines = append(lines, fmt.Sprintf("%x=%s", []byte(e.Key), v))
	}
	sort.Strings(lines)
	return "{" + strings.Join(lines, ", ") + "}"
}
