package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
)

func TestVerifyCommand(t *testing.T) {
	sockmap := testobj.Path("runtime", "sockmap_msg.o")
	attach := testobj.Path("scenarios", "attach.o")
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   string
		jsonRows int
	}{
		{name: "all accepted", args: []string{"--program", "msg_pass", sockmap}, code: exitOK,
			stdout: []string{"msg_pass: accepted"}},
		{name: "one refused", args: []string{sockmap}, code: exitFailure,
			stdout: []string{"msg_bad_store: refused (EACCES) at insn 1: invalid bpf_context access off=68 size=4", "; msg->size = 1; @ sockmap_msg.c:", "msg_pass: accepted"}},
		{name: "json lines", args: []string{"--json", attach}, code: exitFailure, jsonRows: 5},
		{name: "verbose log", args: []string{"-v", "--program", "bad_ctx_access", attach}, code: exitFailure,
			stdout: []string{"(63) *(u32 *)(r1 +68) = r2", "invalid bpf_context access off=68 size=4", "processed "}},
		{name: "no object", args: nil, code: exitUsage, stderr: "want at least one object file"},
		{name: "missing object", args: []string{"no-such.o"}, code: exitUsage, stderr: "no-such.o"},
		{name: "unknown program", args: []string{"--program", "nope", sockmap}, code: exitUsage, stderr: "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"verify"}, tc.args...), &stdout, &stderr)
			require.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			for _, s := range tc.stdout {
				require.Contains(t, stdout.String(), s)
			}
			if tc.stderr != "" {
				require.Contains(t, stderr.String(), tc.stderr)
			}
			if tc.jsonRows > 0 {
				lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
				require.Len(t, lines, tc.jsonRows)
				refused := 0
				for _, l := range lines {
					var row struct {
						Object   string `json:"object"`
						Program  string `json:"program"`
						Accepted bool   `json:"accepted"`
						Errno    string `json:"errno"`
						Reason   string `json:"reason"`
					}
					require.NoError(t, json.Unmarshal([]byte(l), &row), l)
					require.Equal(t, attach, row.Object)
					require.NotEmpty(t, row.Program)
					if !row.Accepted {
						refused++
						require.Equal(t, "EACCES", row.Errno)
						require.Equal(t, "invalid bpf_context access off=68 size=4", row.Reason)
					}
				}
				require.Equal(t, 1, refused)
			}
		})
	}
}
