package emulated_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// runText runs a scenario given as text (object paths absolute) on skmsg.
func runText(t *testing.T, src string) *scenario.Result {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	res, err := scenario.RunFile(p, &emulated.Backend{}, scenario.Options{})
	require.NoError(t, err)
	return res
}

// TestPerCPUAndEvents: cpus: sets how many CPUs skmsg has, values: sees
// each, an update writes every CPU; failures are told in the expected
// side's syntax.
func TestPerCPUAndEvents(t *testing.T) {
	head := "object: " + scenarioPath("events.o") + `
programs: [{program: msg_events, attach: sk_msg, map: sock_map}]
connections: [{name: a}]
maps:
  - {map: sock_map, key: u32:0, socket: a.client}
  - {map: sizes, key: u32:0, value: u32:1 u32:2}
`
	tests := []struct {
		name  string
		cpus  string
		steps string
		fail  string // "" when it passes
	}{
		{"one CPU by default", "", "  - lookup: {map: sizes, key: u32:0, values: [u32:1 u32:2]}\n", ""},
		{"an update writes every CPU", "cpus: 3\n", "  - lookup: {map: sizes, key: u32:0, values: [u32:1 u32:2, u32:1 u32:2, u32:1 u32:2]}\n" +
			"  - lookup: {map: sizes, key: u32:0, sum: u32:3 u32:6}\n", ""},
		{"runs land on CPU 0", "cpus: 2\n", "  - send: {socket: a.client, data: abc}\n" +
			"  - lookup: {map: runs, key: u32:0, values: [u64:1, u64:0]}\n" +
			"  - lookup: {map: sizes, key: u32:0, sum: u32:3 u32:7}\n", ""},
		{"values of another CPU count", "cpus: 2\n", "  - lookup: {map: runs, key: u32:0, values: [u64:0]}\n",
			"expected values of 1 CPUs, the map has 2 (sum: compares whatever the CPU count)"},
		{"sum differs", "cpus: 2\n", "  - lookup: {map: sizes, key: u32:0, sum: u32:2 u32:0x5}\n",
			"expected the sum over 2 CPUs u32:2 u32:0x5, got u32:2 u32:0x4"},
		{"value in the expected syntax", "", "  - send: {socket: a.client, data: abc}\n  - lookup: {map: counters, key: u32:0, value: u64:2}\n",
			"expected u64:2, got u64:1"},
		{"record differs", "", "  - send: {socket: a.client, data: abc}\n  - events: {map: ring, records: [\"u32:1 u32:4\"]}\n",
			"record 0: expected u32:1 u32:4, got u32:1 u32:3"},
		{"perf record needs prefix", "", "  - send: {socket: a.client, data: abc}\n  - events: {map: perf, records: [\"u32:1 u32:3\"]}\n",
			"record 0: expected u32:1 u32:3, got u32:1 u32:3 hex:00000000 (the record has 4 more bytes: prefix: true compares only the start)"},
		{"count differs", "", "  - send: {socket: a.client, data: abc}\n  - send: {socket: a.client, data: x}\n  - events: {map: ring, count: 1}\n",
			"expected 1 records, got 2:\n  record 0: hex:0100000003000000\n  record 1: hex:020000000100000078000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runText(t, tc.cpus+head+"steps:\n"+tc.steps)
			if tc.fail == "" {
				require.True(t, res.Passed(), res.Summary())
				return
			}
			fails := res.Failures()
			require.Len(t, fails, 1, res.Summary())
			assert.Equal(t, tc.fail, fails[0].Message)
		})
	}
}
