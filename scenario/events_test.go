package scenario

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventsAndPerCPUErrors(t *testing.T) {
	head := "object: " + obj("events.o") + "\nconnections: [{name: a}]\nsteps:\n"
	tests := []struct {
		name, src, want string
	}{
		{"events on an array", head + "  - events: {map: counters, count: 1}\n",
			`steps[0].events.map: map counters is a Array: events reads ring buffers and perf event arrays`},
		{"records and count", head + "  - events: {map: ring, count: 1, records: [\"u32:1\"]}\n",
			`give either records or count, not both`},
		{"neither", head + "  - events: {map: ring}\n", `missing field "records" or "count"`},
		{"prefix alone", head + "  - events: {map: ring, count: 1, prefix: true}\n", `prefix applies to records`},
		{"negative count", head + "  - events: {map: ring, count: -1}\n", `must not be negative`},
		{"bad record", head + "  - events: {map: ring, records: [\"u33:1\"]}\n", `steps[0].events.records[0]: field "u33:1": unknown type`},
		{"lookup of an event map", head + "  - lookup: {map: ring, key: u32:0}\n", `map ring is a RingBuf: read its records with an events step`},
		{"value on a per-CPU lookup", head + "  - lookup: {map: runs, key: u32:0, value: u64:1}\n",
			`map runs has a value per CPU: compare sum: (all CPUs added) or values: (one per CPU)`},
		{"sum on an array", head + "  - lookup: {map: counters, key: u32:0, sum: u64:1}\n",
			`map counters is a Array, not a per-CPU map: compare its value with value:`},
		{"sum of hex", head + "  - lookup: {map: runs, key: u32:0, sum: hex:0000000000000000}\n",
			`sum: adds integer fields (u8 u16 u32 u64 be16 be32); hex is not one`},
		{"sum size", head + "  - lookup: {map: runs, key: u32:0, sum: u32:1}\n", `"u32:1" is 4 bytes; map runs has 8-byte values`},
		{"values size", head + "  - lookup: {map: runs, key: u32:0, values: [u64:1, u32:1]}\n", `values[1]: "u32:1" is 4 bytes`},
		{"sum and values", head + "  - lookup: {map: runs, key: u32:0, sum: u64:1, values: [u64:1]}\n", `give one of value, sum, values or cookie_of`},
		{"cpus zero", "cpus: 0\n" + head, `cpus: 0 CPUs: give 1 to 1024`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, tt.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	sc, err := Load(write(t, "cpus: 4\n"+head+"  - events: {map: perf, records: [\"u32:1\", \"hex:0a\"], prefix: true}\n  - lookup: {map: runs, key: u32:0, values: [u64:1, u64:2]}\n"))
	require.NoError(t, err)
	assert.Equal(t, 4, sc.CPUs)
	s := sc.Steps[0]
	assert.Equal(t, StepEvents, s.Kind)
	assert.True(t, s.Prefix)
	require.Len(t, s.Records, 2)
	assert.Equal(t, []byte{0x0a}, s.Records[1].Bytes)
	require.Len(t, sc.Steps[1].Values, 2)
}

func TestFormatLike(t *testing.T) {
	tests := []struct {
		expected string
		got      []byte
		want     string
	}{
		{"u64:2", []byte{1, 0, 0, 0, 0, 0, 0, 0}, "u64:1"},
		{"u32:1 u32:0x10", []byte{2, 0, 0, 0, 0xff, 0, 0, 0}, "u32:2 u32:0xff"},
		{"u16:-1", []byte{0xfe, 0xff}, "u16:-2"},
		{"be16:80 ip4:10.0.0.1", []byte{0, 81, 10, 0, 0, 2}, "be16:81 ip4:10.0.0.2"},
		{"u32:1", []byte{1, 0, 0, 0, 9, 9}, "u32:1 hex:0909"},     // longer than expected
		{"u64:1", []byte{1, 0, 0, 0}, "hex:01000000"},             // shorter
		{"hex:0a0b", []byte{0x0c, 0x0d}, "hex:0c0d"},              // bytes stay hex
		{"u8:1 hex:00 u8:3", []byte{1, 2, 3}, "u8:1 hex:02 u8:3"}, // mixed
		{"u32:1", nil, "(empty)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, FormatLike(tt.expected, tt.got), "like %q", tt.expected)
	}
}

func TestSums(t *testing.T) {
	cpu := func(vs ...[]byte) [][]byte { return vs }
	sum, err := SumFields("u32:0 u32:0", cpu([]byte{1, 0, 0, 0, 5, 0, 0, 0}, []byte{2, 0, 0, 0, 6, 0, 0, 0}))
	require.NoError(t, err)
	assert.Equal(t, []byte{3, 0, 0, 0, 11, 0, 0, 0}, sum)
	sum, err = SumFields("u8:0", cpu([]byte{0xff}, []byte{2}))
	require.NoError(t, err)
	assert.Equal(t, []byte{1}, sum, "wraps at the field's width")
	sum, err = SumFields("be16:0", cpu([]byte{0, 0xff}, []byte{0, 1}))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 0}, sum, "big-endian fields add as numbers")
	_, err = SumFields("ip4:0.0.0.0", nil)
	assert.ErrorContains(t, err, "ip4 is not one")

	assert.Equal(t, []byte{3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
		SumWords(cpu(make([]byte, 16), []byte{3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}), 16))
	assert.Equal(t, []byte{2, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0},
		SumWords(cpu([]byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}, []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}), 12))
	assert.Nil(t, SumWords(nil, 0))
}
