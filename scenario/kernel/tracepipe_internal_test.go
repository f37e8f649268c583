//go:build linux

package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestFormatRegexp(t *testing.T) {
	tests := []struct {
		format string
		lines  map[string]bool
	}{
		{"skmsg scenario: msg size %u\n", map[string]bool{
			"skmsg scenario: msg size 5": true, "skmsg scenario: msg size ": true,
			"skmsg scenario: msg size 5 extra": true, // %u matches lazily up to the end
			"other: msg size 5":                false}},
		{"a=%d b=%llx %s", map[string]bool{"a=-1 b=ff hello world": true, "a=1": false}},
		{"100%% done (%lu)", map[string]bool{"100% done (7)": true, "100 done (7)": false}},
		{"plain [text].*", map[string]bool{"plain [text].*": true, "plain xtext": false}},
	}
	for _, tt := range tests {
		re := formatRegexp(tt.format)
		require.NotNil(t, re, tt.format)
		for line, want := range tt.lines {
			assert.Equal(t, want, re.MatchString(line), "%q against %q", line, tt.format)
		}
	}
	assert.Nil(t, formatRegexp(""))
	assert.Nil(t, formatRegexp("\x01\x02binary"))
}

func TestParseTraceLine(t *testing.T) {
	l, ok := parseTraceLine("   skmsg-run-4242   [001] ..s21 12345.678901: bpf_trace_printk: msg size 5")
	require.True(t, ok)
	assert.Equal(t, traceLine{comm: "skmsg-run", pid: 4242, kind: "bpf_trace_printk", msg: "msg size 5"}, l)
	l, ok = parseTraceLine("kworker/1:2-mm_percpu_wq-77 [001] ..... 1.0: bpf_trace_printk: x: y")
	require.True(t, ok)
	assert.Equal(t, "kworker/1:2-mm_percpu_wq", l.comm)
	assert.Equal(t, "x: y", l.msg)
	assert.True(t, kernelThread(l))
	_, ok = parseTraceLine("garbage")
	assert.False(t, ok)
}

// TestDrainFilters drives drain over a pipe standing in for trace_pipe:
// this process's and kernel threads' lines of the scenario's formats are
// kept, other processes' are counted out, and a marker that never comes
// through says the pipe is busy.
func TestDrainFilters(t *testing.T) {
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC))
	defer unix.Close(p[1])
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "trace_marker"), nil, 0o644))
	tp := &tracePipe{fd: p[0], dir: dir, formats: []*regexp.Regexp{formatRegexp("size %u")}}
	defer tp.close()
	self := os.Getpid()
	feed := func(lines ...string) {
		for _, l := range lines {
			_, err := unix.Write(p[1], []byte(l+"\n"))
			require.NoError(t, err)
		}
	}
	lines := []string{
		fmt.Sprintf("skmsg-run-%d [000] ..... 1.0: bpf_trace_printk: size 5", self),
		"ksoftirqd/0-15 [000] ..s.. 1.1: bpf_trace_printk: size 6",
		"other-1 [001] ..... 1.2: bpf_trace_printk: size 7",                           // another process
		fmt.Sprintf("skmsg-run-%d [000] ..... 1.3: bpf_trace_printk: not ours", self), // no format of ours
		"other-1 [001] ..... 1.4: sched_switch: prev=x",                               // not printk
	}

	// The marker comes through: everything before it, no busy note.
	feed(lines...)
	feed(fmt.Sprintf("skmsg-run-%d [000] ..... 1.5: tracing_mark_write: skmsg-marker-%d-%d", self, self, markerSeq.Load()+1))
	out, notes := tp.drain()
	assert.Equal(t, []string{"size 5", "size 6"}, out)
	assert.Equal(t, []string{"2 bpf_printk line(s) not printed by this scenario's programs left out"}, notes)
	b, err := os.ReadFile(filepath.Join(dir, "trace_marker"))
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("skmsg-marker-%d-%d", self, markerSeq.Load()), string(b), "the marker went to trace_marker")

	// Someone else took the marker: busy.
	feed(lines[0])
	out, notes = tp.drain()
	assert.Equal(t, []string{"size 5"}, out)
	require.Len(t, notes, 1)
	assert.Contains(t, notes[0], "trace_pipe busy")
}
