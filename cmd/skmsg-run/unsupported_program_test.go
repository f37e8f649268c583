package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
)

// One program skmsg cannot prepare (a kfunc call, a helper skmsg does not
// implement) fails only itself: a scenario using another program of the
// object runs, one using it is a file skmsg cannot use (exit 2), and
// disasm lists every program, marking those two with the reason.
func TestOneUnsupportedProgram(t *testing.T) {
	obj := testobj.Path("scenarios", "one_bad_program.o")
	for _, tc := range []struct {
		program string
		code    int
		stderr  string
	}{
		{"msg_plain", exitOK, ""},
		{"msg_kfunc", exitUsage, "kfunc call bpf_rcu_read_lock: not supported by skmsg"},
		{"msg_task_stack", exitUsage, "bpf_get_task_stack#141"},
	} {
		t.Run(tc.program, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "s.yaml")
			require.NoError(t, os.WriteFile(file, []byte(strings.Join([]string{
				"name: " + tc.program,
				"object: " + obj,
				"programs:",
				"  - {program: " + tc.program + ", attach: sk_msg, map: sock_map}",
				"connections:",
				"  - name: a",
				"steps:",
				"  - update: {map: sock_map, key: u32:0, socket: a.client}",
				"  - send: {socket: a.client, data: \"x\"}",
				"    expect: {ret: 1}",
				"",
			}, "\n")), 0o644))
			_, stderr, code := runBinary(t, "run", file)
			assert.Equal(t, tc.code, code, "stderr:\n%s", stderr)
			assert.Contains(t, stderr, tc.stderr)
		})
	}

	stdout, stderr, code := runBinary(t, "disasm", obj)
	require.Equal(t, exitOK, code, "stderr:\n%s", stderr)
	assert.Contains(t, stdout, "3 programs")
	for _, want := range []string{
		"msg_kfunc: section sk_msg",
		"skmsg cannot run this program: section \"sk_msg\", program msg_kfunc",
		"msg_task_stack: section sk_msg",
		"skmsg cannot run this program: program msg_task_stack: pc",
		"msg_plain: section sk_msg",
	} {
		assert.Contains(t, stdout, want)
	}
	assert.Equal(t, 2, strings.Count(stdout, "skmsg cannot run this program"), "only the two programs are marked:\n%s", stdout)
}
