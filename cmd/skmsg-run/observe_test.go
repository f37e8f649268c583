package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// TestVerboseObservations: -v shows what events steps read and the
// per-CPU values of a lookup; on the kernel, the whole log of the
// verifier that refused a program.
func TestVerboseObservations(t *testing.T) {
	stdout, stderr, code := runBinary(t, "run", "-v", testobj.Path("scenarios", "events.yaml"))
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "events: events of ring\n    record 0: hex:0100000005000000 (8 bytes)\n")
	assert.Contains(t, stdout, "events: events of perf\n    record 0: hex:010000000500000000000000 (12 bytes)\n")
	assert.Contains(t, stdout, "lookup: lookup runs[u32:0]\n    cpu 0: hex:0300000000000000\n")

	if err := kernel.Available(); err != nil {
		t.Skipf("the kernel half needs BPF: %v", err)
	}
	attach := testobj.Path("scenarios", "attach.yaml")
	stdout, stderr, code = runBinary(t, "run", "--kernel", "-v", attach)
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `load program bad_ctx_access\n    verifier log \(\d+ lines\):\n(      .*\n)*      invalid bpf_context access off=68 size=4\n`, stdout)
	stdout, _, _ = runBinary(t, "run", "--kernel", attach)
	assert.NotContains(t, stdout, "verifier log", "only with -v")

	stdout, stderr, code = runBinary(t, "compare", "-v", attach)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "--- load program bad_ctx_access: kernel refused it:\n    verifier log (")
}
