package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds skmsg-run once per test process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skmsg-run-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "skmsg-run")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

func TestDisasmCommand(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.o")
	require.NoError(t, os.WriteFile(garbage, []byte("\x7fELF but not really an object"), 0o644))
	obj := func(name string) string { return testobj.Path("loader", name) }

	tests := []struct {
		name        string
		args        []string
		code        int
		stdout      []string
		notStdout   []string
		stderr      []string
		emptyStdout bool
	}{
		{
			name: "whole object",
			args: []string{"disasm", obj("maps.o")},
			code: 0,
			stdout: []string{
				"maps.o: 6 programs, 18 maps\n",
				"map sock_hash: SockHash key 4 value 8 max_entries 16\n",
				"map perf_events: PerfEventArray key 4 value 4 max_entries one per CPU\n",
				"msg_all_maps: section sk_msg, type SkMsg, attach SkMsgVerdict,",
				"skb_parser: section sk_skb/stream_parser, type SkSKB, attach SkSKBStreamParser, 2 instructions\n",
				"sockops_insert: section sockops, type SockOps, attach CGroupSockOps,",
				"r1 = map[counters]\n",
				"r2 = map[sock_map]\n",
				"call msg_redirect_hash#71\n",
				"; return bpf_sk_redirect_map(skb, &sock_map, key, 0);  [./testdata/loader/maps.c:",
			},
		},
		{
			name:      "one program",
			args:      []string{"disasm", "--program", "skb_verdict", obj("maps.o")},
			code:      0,
			stdout:    []string{"skb_verdict: section sk_skb/stream_verdict", "call sk_redirect_map#52\n"},
			notStdout: []string{"msg_all_maps: section"},
		},
		{
			name: "flags after the object",
			args: []string{"disasm", obj("globals.o"), "-program", "msg_globals"},
			code: 0,
			stdout: []string{"= &map[.rodata][0]\n", "call add_bytes\n", "\nshould_log:\n",
				"map jump_table: ProgramArray key 4 value 4 max_entries 4 [1]=tail_pass\n",
				"map .rodata: Array key 4 value 18 max_entries 1 flags 0x80 (global data, read-only)\n"},
		},
		{
			name:   "CO-RE object",
			args:   []string{"disasm", obj("core.o")},
			code:   0,
			stdout: []string{"core_msg: section sk_msg, type SkMsg, attach SkMsgVerdict, 21 instructions, 6 CO-RE relocations applied\n", "r2 = *(u32 *)(r1 + 68)\n"},
		},
		{
			name:   "legacy sections",
			args:   []string{"disasm", obj("legacy_sections.o")},
			code:   0,
			stdout: []string{"bpf_prog3: section sk_msg1, type SkMsg, attach SkMsgVerdict (legacy section name)"},
		},
		{
			name:   "legacy section with explicit type",
			args:   []string{"disasm", "--type", "sk_skb2=sk_skb/stream_verdict", obj("legacy_sections.o")},
			code:   0,
			stdout: []string{"bpf_prog2: section sk_skb2, type SkSKB, attach SkSKBStreamVerdict (type given explicitly)"},
		},
		{
			name:        "unknown section without type",
			args:        []string{"disasm", obj("unknown_section.o")},
			code:        2,
			stderr:      []string{`section "my_verdict", program custom_verdict: program type unknown`, "--type custom_verdict=TYPE"},
			emptyStdout: true,
		},
		{
			name:   "unknown section with type",
			args:   []string{"disasm", "--type=custom_verdict=sk_msg", obj("unknown_section.o")},
			code:   0,
			stdout: []string{"custom_verdict: section my_verdict, type SkMsg, attach SkMsgVerdict (type given explicitly)"},
		},
		{
			name:        "bad type",
			args:        []string{"disasm", "--type", "custom_verdict=sk_bogus", obj("unknown_section.o")},
			code:        2,
			stderr:      []string{`unknown program type "sk_bogus"`},
			emptyStdout: true,
		},
		{
			// Listed, and marked as a program skmsg cannot run.
			name:   "unresolvable CO-RE",
			args:   []string{"disasm", obj("core_missing.o")},
			code:   0,
			stdout: []string{"msg_future: section sk_msg", "skmsg cannot run this program", "sk_msg_md___future", "not supported by skmsg"},
		},
		{
			name:        "broken object",
			args:        []string{"disasm", garbage},
			code:        2,
			stderr:      []string{"garbage.o"},
			emptyStdout: true,
		},
		{
			name:        "missing object",
			args:        []string{"disasm", filepath.Join(t.TempDir(), "nope.o")},
			code:        2,
			stderr:      []string{"no such file"},
			emptyStdout: true,
		},
		{
			name:        "no such program",
			args:        []string{"disasm", "--program", "nope", obj("maps.o")},
			code:        2,
			stderr:      []string{`no program "nope"`, "msg_all_maps"},
			emptyStdout: true,
		},
		{
			name:        "no object",
			args:        []string{"disasm"},
			code:        2,
			stderr:      []string{"want exactly one object file", "usage: skmsg-run disasm"},
			emptyStdout: true,
		},
		{
			name:        "unknown command",
			args:        []string{"frobnicate"},
			code:        2,
			stderr:      []string{`unknown command "frobnicate"`, "disasm"},
			emptyStdout: true,
		},
		{
			name:   "help lists commands",
			args:   []string{"help"},
			code:   0,
			stdout: []string{"usage: skmsg-run COMMAND", "  disasm "},
		},
		{
			name:   "help for a command",
			args:   []string{"help", "disasm"},
			code:   0,
			stdout: []string{"--program NAME", "--type NAME=TYPE"},
		},
		{
			name:        "no arguments",
			args:        nil,
			code:        2,
			stderr:      []string{"usage: skmsg-run COMMAND"},
			emptyStdout: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runBinary(t, tt.args...)
			assert.Equal(t, tt.code, code, "stderr: %s", stderr)
			for _, want := range tt.stdout {
				assert.Contains(t, stdout, want)
			}
			for _, not := range tt.notStdout {
				assert.NotContains(t, stdout, not)
			}
			for _, want := range tt.stderr {
				assert.Contains(t, stderr, want)
			}
			if tt.emptyStdout {
				assert.Empty(t, strings.TrimSpace(stdout))
			}
		})
	}
}

// TestDisasmEveryObject lists every committed test object that is meant to
// load: the command must succeed and list each program.
func TestDisasmEveryObject(t *testing.T) {
	objs, err := testobj.Objects()
	require.NoError(t, err)
	for _, path := range objs {
		base := filepath.Base(path)
		if base == "unknown_section.o" || base == "core_missing.o" {
			continue
		}
		var out, errb bytes.Buffer
		code := run([]string{"disasm", path}, &out, &errb)
		require.Equal(t, 0, code, "%s: %s", path, errb.String())
		assert.Contains(t, out.String(), filepath.Base(path)+": ")
	}
}
