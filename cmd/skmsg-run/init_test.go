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

// TestInitEveryObject writes a skeleton for every committed object and
// runs it: it must be a usable scenario (exit 0 or 1, never 2).
func TestInitEveryObject(t *testing.T) {
	objs, err := testobj.Objects()
	require.NoError(t, err)
	require.NotEmpty(t, objs)
	dir := t.TempDir()
	for _, obj := range objs {
		rel, err := filepath.Rel(testobj.Path(), obj)
		require.NoError(t, err)
		t.Run(rel, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(rel, "/", "_")+".yaml")
			_, stderr, code := runBinary(t, "init", "-o", file, obj)
			require.Equal(t, exitOK, code, "init: %s", stderr)
			text, err := os.ReadFile(file)
			require.NoError(t, err)
			assert.Contains(t, string(text), "# TODO")
			// Some skeletons never settle (a verdict redirecting to its
			// own socket loops for ever): a short deadline ends them.
			stdout, stderr, code := runBinary(t, "run", "--step-timeout", "5s", file)
			assert.Contains(t, []int{exitOK, exitFailure}, code, "the skeleton must run:\n%s\n%s%s", text, stdout, stderr)
		})
	}
}

func TestInitSkeleton(t *testing.T) {
	scen := func(name string) string { return testobj.Path("scenarios", name) }
	tests := []struct {
		name    string
		objs    []string
		passes  bool // the skeleton's run exits 0 (else 0 or 1)
		want    []string
		notWant []string
	}{
		{
			name:   "verdict pass program passes as written",
			objs:   []string{scen("pass.o")},
			passes: true,
			want:   []string{"attach: sk_msg, map: sock_map}", "socket: a.client}", "- send: {socket: a.client, data:"},
		},
		{
			name: "parser and verdict on one map, one send/recv pair",
			objs: []string{scen("parser.o")},
			want: []string{"{program: prog_parser, attach: stream_parser, map: sock_map}",
				"{program: prog_verdict, attach: stream_verdict, map: sock_map}",
				"# - {map: counters, key: u32:0, value: u64:0}",
				"# counters: array, key 4 bytes (unsigned int), value 8 bytes (unsigned long long), max_entries 4"},
		},
		{
			name: "a second sk_msg program gets its own map and connection b",
			objs: []string{scen("redirect.o")},
			want: []string{"{program: msg_redir_ingress, attach: sk_msg, map: sock_map_b}",
				"{name: sock_map_b, type: sockmap", "- send: {socket: b.client"},
		},
		{
			name: "several objects: objects: with names, shared map names qualified",
			objs: []string{scen("pass.o"), scen("drop.o")},
			want: []string{"objects:\n", "{name: pass, path:", "{name: drop, path:", "map: pass/sock_map}", "map: drop/sock_map}",
				"{map: drop/sock_map, key: u32:0, socket: b.client}", "- send: {socket: b.client"},
		},
		{
			name:    "sockops: attached to the whole network, no map",
			objs:    []string{scen("sockops.o")},
			want:    []string{"attach: sockops}"},
			notWant: []string{"attach: sockops, map"},
		},
		{
			name: "a program of another type is only a comment",
			objs: []string{testobj.Path("bench", "alu_loop.o")},
			want: []string{`# alu_loop (section "socket", type SocketFilter) is not a sockmap program`,
				"[] # TODO: the objects have no sk_msg, sk_skb or sockops program"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "s.yaml")
			_, stderr, code := runBinary(t, append([]string{"init", "-o", file}, tc.objs...)...)
			require.Equal(t, exitOK, code, stderr)
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			text := string(b)
			for _, w := range tc.want {
				assert.Contains(t, text, w)
			}
			for _, w := range tc.notWant {
				assert.NotContains(t, text, w)
			}
			stdout, stderr, code := runBinary(t, "run", file)
			if tc.passes {
				assert.Equal(t, exitOK, code, "%s\n%s%s", text, stdout, stderr)
			} else {
				assert.Contains(t, []int{exitOK, exitFailure}, code, "%s\n%s%s", text, stdout, stderr)
			}
		})
	}
}

func TestInitErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.o")
	require.NoError(t, os.WriteFile(text, []byte("not an obj\n"), 0o644))
	existing := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(existing, []byte("keep me"), 0o644))
	pass := testobj.Path("scenarios", "pass.o")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no object", []string{"init"}, exitUsage, "no object given"},
		{"text file", []string{"init", text}, exitUsage, "not an ELF object"},
		{"missing", []string{"init", filepath.Join(dir, "missing.o")}, exitUsage, "no such file"},
		{"no overwrite", []string{"init", "-o", existing, pass}, exitUsage, "exists (-f overwrites it)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runBinary(t, tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
	b, err := os.ReadFile(existing)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(b))
	_, _, code := runBinary(t, "init", "-f", "-o", existing, pass)
	require.Equal(t, exitOK, code)
}

// TestHelpEverywhere: asking any command for help succeeds and prints its
// usage on stdout.
func TestHelpEverywhere(t *testing.T) {
	for name := range commands {
		for _, flag := range []string{"--help", "-h", "-help"} {
			t.Run(name+flag, func(t *testing.T) {
				stdout, stderr, code := runBinary(t, name, "somefile", flag)
				assert.Equal(t, exitOK, code, stderr)
				assert.Contains(t, stdout, "usage: skmsg-run "+name)
			})
		}
	}
	stdout, _, code := runBinary(t, "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "init ")
}
