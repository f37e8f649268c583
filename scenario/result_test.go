package scenario

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleResult() *Result {
	ret := int64(11)
	n := 5
	return &Result{
		Scenario: "demo", File: "demo.yaml", Backend: "kernel",
		Steps: []StepResult{
			{Phase: PhaseSetup, Number: 1, Line: 2, Kind: "object", Desc: "load object x.o", Pass: true},
			{Phase: PhaseSteps, Number: 1, Line: 9, Kind: "send", Desc: "send 11 bytes on a.client", Pass: true, Obs: Observation{Ret: &ret}, Seconds: 0.25},
			{Phase: PhaseSteps, Number: 2, Line: 11, Kind: "recv", Desc: "recv on a.server", Pass: false,
				Message: "expected 11 bytes, got 5; equal up to offset 5\n  expected ...", Obs: Observation{Data: []byte("hello"), Len: &n}},
			{Phase: PhaseSteps, Number: 3, Line: 12, Kind: "lookup", Desc: "lookup sock_map[u32:0]", Pass: true,
				Obs: Observation{Value: []byte{1, 0, 0, 0, 0, 0, 0, 0}, CookieOf: "a.client"}},
		},
		Maps: []MapDump{{Map: "sock_map", Entries: []DumpEntry{{Key: []byte{0, 0, 0, 0}, CookieOf: "a.client"}}}},
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sampleResult().WriteJSON(&buf))
	sc := bufio.NewScanner(&buf)
	var recs []map[string]any
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		recs = append(recs, m)
	}
	require.Len(t, recs, 4)
	require.Equal(t, "recv", recs[2]["kind"])
	require.Equal(t, false, recs[2]["pass"])
	require.Equal(t, float64(11), recs[2]["line"])
	require.Equal(t, "68656c6c6f", recs[2]["observed"].(map[string]any)["data"])
	require.Equal(t, "a.client", recs[3]["observed"].(map[string]any)["cookie_of"])
}

func TestWriteJUnit(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, sampleResult()))
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Suites, 1)
	s := doc.Suites[0]
	require.Equal(t, 4, s.Tests)
	require.Equal(t, "0.250000", s.Time)
	require.Equal(t, "0.250000", s.Cases[1].Time)
	require.Equal(t, 1, s.Failures)
	require.Len(t, s.Cases, 4)
	require.Nil(t, s.Cases[1].Failure)
	require.NotNil(t, s.Cases[2].Failure)
	require.Equal(t, "expected 11 bytes, got 5; equal up to offset 5", s.Cases[2].Failure.Message)
	require.Contains(t, s.Cases[2].Name, "step 2 (line 11) recv")
}

func TestSummary(t *testing.T) {
	r := sampleResult()
	require.False(t, r.Passed())
	require.Len(t, r.Failures(), 1)
	require.Contains(t, r.Summary(), "demo.yaml: step 2 (line 11) recv: recv on a.server: expected 11 bytes, got 5")
	require.Contains(t, r.Summary(), "demo on kernel: 3 of 4 steps passed")
}

func TestDiff(t *testing.T) {
	a, b := sampleResult(), sampleResult()
	require.Empty(t, Diff(a, b))

	// Different cookies naming the same socket agree.
	b.Steps[3].Obs.Value = []byte{9, 0, 0, 0, 0, 0, 0, 0}
	require.Empty(t, Diff(a, b))

	b.Steps[2].Obs.Data = []byte("hellO")
	eacces := "EACCES"
	b.Steps[1].Obs.Ret, b.Steps[1].Obs.Errno = nil, eacces
	b.Steps[3].Obs.CookieOf = "a.server"
	b.Maps[0].Entries[0].CookieOf = "b.client"
	d := Diff(a, b)
	var what []string
	for _, x := range d {
		what = append(what, x.What)
	}
	require.Equal(t, []string{"errno", "ret", "data", "value", "map sock_map"}, what)
	require.Equal(t, "success", d[0].A)
	require.Equal(t, "EACCES", d[0].B)
	require.Contains(t, d[2].B, "first difference at offset 4")
	require.Equal(t, "cookie of a.client", d[3].A)
	require.Contains(t, d[4].String(), "final map contents: map sock_map differs")
}
