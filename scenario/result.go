package scenario

import (
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Result is what one run of a scenario on one backend saw.
type Result struct {
	Scenario string       `json:"scenario"`
	File     string       `json:"file"`
	Backend  string       `json:"backend"`
	Seed     uint64       `json:"seed"`
	Steps    []StepResult `json:"steps"`
	// Maps is every map's contents at the end of the run.
	Maps []MapDump `json:"maps,omitempty"`
	// Stopped says why the run ended before its last step (a deadline
	// passed); empty when every step ran.
	Stopped string `json:"stopped,omitempty"`
}

// Phase is the part of a scenario a step result belongs to.
type Phase string

const (
	PhaseSetup Phase = "setup" // objects, programs, attachments, listeners, connections
	PhaseMaps  Phase = "maps"
	PhaseSteps Phase = "steps"
)

// StepResult is one step (or setup action) and what came of it.
type StepResult struct {
	Phase   Phase       `json:"phase"`
	Number  int         `json:"step"` // 1-based within its phase
	Line    int         `json:"line"`
	Kind    string      `json:"kind"`
	Desc    string      `json:"desc"`
	Pass    bool        `json:"pass"`
	Message string      `json:"message,omitempty"`
	Obs     Observation `json:"observed"`
	// Seconds is how long the step took, the wait for idle after it
	// included (wall-clock time, so it differs between runs; JSON leaves
	// it out when zero).
	Seconds float64 `json:"seconds,omitempty"`
}

// Observation is what a step saw, in a form that compares across backends
// (socket cookies are named by the socket they belong to).
type Observation struct {
	Ret      *int64   `json:"ret,omitempty"`
	Errno    string   `json:"errno,omitempty"`
	Data     HexBytes `json:"data,omitempty"`
	Len      *int     `json:"len,omitempty"`
	EOF      *bool    `json:"eof,omitempty"`
	Value    HexBytes `json:"value,omitempty"`
	CookieOf string   `json:"cookie_of,omitempty"`
	// Values are a per-CPU lookup's values, one per CPU (Value is then
	// their sum).
	Values []HexBytes `json:"values,omitempty"`
	// Events are the records an events step read.
	Events []HexBytes `json:"events,omitempty"`
	// Log is the whole log of the verifier that refused a program (not
	// compared across backends).
	Log  []string `json:"verifier_log,omitempty"`
	Logs []string `json:"logs,omitempty"`
	// Notes are the backend's remarks on the observation (bpf_printk
	// lines of other processes left out, a busy trace_pipe).
	Notes []string `json:"notes,omitempty"`
	// Detail is the error message of a failed operation, in the
	// backend's words (not compared across backends).
	Detail string `json:"detail,omitempty"`
}

// MapDump is one map's contents.
type MapDump struct {
	Map     string      `json:"map"`
	Entries []DumpEntry `json:"entries"`
	Error   string      `json:"error,omitempty"`
}

// DumpEntry is one entry; a socket-holding entry names its socket.
type DumpEntry struct {
	Key      HexBytes `json:"key"`
	Value    HexBytes `json:"value,omitempty"`
	CookieOf string   `json:"cookie_of,omitempty"`
	// InnerMap is set for an entry of a map of maps, whose value (a map
	// id on the kernel) is not kept: ids differ between backends.
	InnerMap bool `json:"inner_map,omitempty"`
}

// HexBytes prints as hex in JSON.
type HexBytes []byte

func (h HexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	*h = d
	return err
}

// Passed says whether every step held.
func (r *Result) Passed() bool {
	for i := range r.Steps {
		if !r.Steps[i].Pass {
			return false
		}
	}
	return true
}

// Failures returns the steps that did not hold.
func (r *Result) Failures() []StepResult {
	var out []StepResult
	for _, s := range r.Steps {
		if !s.Pass {
			out = append(out, s)
		}
	}
	return out
}

// Name of a step for messages: "step 3 (line 17) send".
func (s *StepResult) Name() string {
	if s.Phase == PhaseSetup {
		return fmt.Sprintf("setup (line %d) %s", s.Line, s.Kind)
	}
	if s.Phase == PhaseMaps {
		return fmt.Sprintf("maps[%d] (line %d) %s", s.Number, s.Line, s.Kind)
	}
	return fmt.Sprintf("step %d (line %d) %s", s.Number, s.Line, s.Kind)
}

// Summary is a human-readable report: one line per failing step and a
// total.
func (r *Result) Summary() string {
	var b strings.Builder
	fails := r.Failures()
	for _, f := range fails {
		fmt.Fprintf(&b, "%s: %s: %s: %s\n", r.File, f.Name(), f.Desc, f.Message)
	}
	fmt.Fprintf(&b, "%s on %s: %d of %d steps passed", r.Scenario, r.Backend, len(r.Steps)-len(fails), len(r.Steps))
	return b.String()
}

// WriteText prints every step, PASS or FAIL, with failure messages.
func (r *Result) WriteText(w io.Writer) error {
	for _, s := range r.Steps {
		status := "PASS"
		if !s.Pass {
			status = "FAIL"
		}
		if _, err := fmt.Fprintf(w, "%s %s: %s\n", status, s.Name(), s.Desc); err != nil {
			return err
		}
		if !s.Pass {
			for _, l := range strings.Split(s.Message, "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		for _, l := range s.Obs.Logs {
			fmt.Fprintf(w, "    log: %s\n", l)
		}
	}
	_, err := fmt.Fprintln(w, r.Summary()[strings.LastIndexByte(r.Summary(), '\n')+1:])
	return err
}

// WriteJSON writes one JSON object per step, one per line.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, s := range r.Steps {
		rec := struct {
			Scenario string `json:"scenario"`
			File     string `json:"file"`
			Backend  string `json:"backend"`
			StepResult
		}{r.Scenario, r.File, r.Backend, s}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return nil
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes a JUnit XML report of one or more results: a test suite
// per result, a test case per step.
func WriteJUnit(w io.Writer, results ...*Result) error {
	var doc junitSuites
	for _, r := range results {
		s := junitSuite{Name: r.Scenario + " (" + r.Backend + ")", Tests: len(r.Steps)}
		total := 0.0
		for _, st := range r.Steps {
			c := junitCase{Name: st.Name() + ": " + st.Desc, Classname: r.File, File: r.File, Line: st.Line, Time: fmt.Sprintf("%.6f", st.Seconds)}
			if !st.Pass {
				s.Failures++
				first, _, _ := strings.Cut(st.Message, "\n")
				c.Failure = &junitFailure{Message: first, Text: st.Message}
			}
			s.Cases = append(s.Cases, c)
			total += st.Seconds
		}
		s.Time = fmt.Sprintf("%.6f", total)
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
