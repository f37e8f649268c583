package scenario

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
)

// write puts a scenario beside the bundled objects' absolute paths.
func write(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	return p
}

func obj(name string) string { return testobj.Path("scenarios", name) }

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"key size", "object: " + obj("pass.o") + "\nmaps:\n  - {map: counters, key: u64:0, value: u64:1}\n",
			`s.yaml:3:26: maps[0].key: "u64:0" is 8 bytes; map counters has 4-byte keys`},
		{"value size", "object: " + obj("pass.o") + "\nmaps:\n  - {map: counters, key: u32:0, value: u32:1}\n",
			`maps[0].value: "u32:1" is 4 bytes; map counters has 8-byte values`},
		{"unknown map", "object: " + obj("pass.o") + "\nmaps:\n  - {map: nope, key: u32:0, value: u64:1}\n",
			`maps[0].map: no map named "nope" (maps: `},
		{"unknown program", "object: " + obj("pass.o") + "\nprograms:\n  - {program: nope, attach: sk_msg, map: sock_map}\n",
			`s.yaml:3:15: programs[0].program: no program "nope" (programs: msg_pass)`},
		{"wrong program type", "object: " + obj("pass.o") + "\nprograms:\n  - {program: msg_pass, attach: stream_verdict, map: sock_map}\n",
			`programs[0].attach: program "msg_pass" (section "sk_msg") is of type SkMsg; attach: stream_verdict needs SkSKB`},
		{"attach to array", "object: " + obj("pass.o") + "\nprograms:\n  - {program: msg_pass, attach: sk_msg, map: counters}\n",
			`map counters is a Array, not a sockmap or sockhash`},
		{"attach without map", "object: " + obj("pass.o") + "\nprograms:\n  - {program: msg_pass, attach: sk_msg}\n",
			`attach: sk_msg needs map:`},
		{"socket not yet", "object: " + obj("pass.o") + "\nlisteners: [{name: l}]\nsteps:\n  - send: {socket: c.client, data: x}\n  - connect: {name: c, to: l}\n",
			`s.yaml:4:20: steps[0].send.socket: no socket "c.client" at this point (sockets: l)`},
		{"no listener", "object: " + obj("pass.o") + "\nsteps:\n  - connect: {name: c, to: l}\n", `steps[0].connect.to: no listener "l"`},
		{"socket on array", "object: " + obj("pass.o") + "\nconnections: [{name: a}]\nsteps:\n  - update: {map: counters, key: u32:0, socket: a.client}\n",
			`map counters is a Array: socket values need a sockmap or sockhash`},
		{"ambiguous map", "objects:\n  - {name: x, path: " + obj("apply.o") + "}\n  - {name: y, path: " + obj("apply.o") + "}\nmaps:\n  - {map: .data, key: u32:0, value: u32:0 u32:0}\n",
			`maps[0].map: map name ".data" is ambiguous: write one of x/.data, y/.data`},
		{"no such object", "object: " + obj("pass.o") + "\nmaps:\n  - {map: z/counters, key: u32:0, value: u64:0}\n", `maps[0].map: no object named "z"`},
		{"ambiguous program", "objects:\n  - {name: x, path: " + obj("redirect.o") + "}\n  - {name: y, path: " + obj("redirect.o") + "}\nprograms:\n  - {program: msg_redir_egress, attach: sk_msg, map: sock_map}\n",
			`program "msg_redir_egress" is in several objects (x, y): say which with object:`},
		{"missing object file", "object: nope.o\n", `s.yaml:1:9: objects[0]: cannot read object`},
		{"text file as object", "object: " + testobj.Path("scenarios", "README.md") + "\n", `objects[0]: cannot read object: ` + testobj.Path("scenarios", "README.md") + `: not an ELF object: it starts with "# Sc"`},
		{"cookie lookup size", "object: " + obj("pass.o") + "\nsteps:\n  - lookup: {map: sock_map, key: u32:0, value: u32:1}\n",
			`map sock_map has 8-byte cookies (looked up from user space)`},
		{"no such program for an attach step", "object: " + obj("redirect.o") + "\nsteps:\n  - attach: {program: msg_nope, map: sock_map, attach: sk_msg}\n",
			`no program "msg_nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, tt.src))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestMapSharing(t *testing.T) {
	sc, err := Load(obj("sockops.yaml"))
	require.NoError(t, err)
	names := map[string]int{}
	for _, d := range sc.MapDefs {
		names[d.Name]++
	}
	// sock_hash, sock_map and counters are declared alike in both objects:
	// one instance each.
	require.Equal(t, map[string]int{"sock_hash": 1, "sock_map": 1, "counters": 1}, names)
	ops, redir := sc.Objects[0], sc.Objects[1]
	require.Equal(t, ops.Maps["sock_hash"], redir.Maps["sock_hash"])
	require.Equal(t, ebpf.SockOps, sc.Programs[0].Spec.Type)
	require.Equal(t, NoMap, sc.Programs[0].Map)
	require.Equal(t, ops.Maps["sock_hash"], sc.Programs[1].Map)
	require.Contains(t, sc.Addresses, mustAddr("10.0.0.1"))
	require.Contains(t, sc.Addresses, mustAddr("10.0.0.2"))
}

func TestGlobalDataNeverShared(t *testing.T) {
	src := "objects:\n  - {name: x, path: " + obj("apply.o") + "}\n  - {name: y, path: " + obj("apply.o") + "}\n" +
		"create_maps:\n  - {name: sock_map, type: sockmap, key_size: 4, value_size: 8, max_entries: 4}\n" +
		"maps:\n  - {map: x/.data, key: u32:0, value: u32:1 u32:1}\n  - {map: sock_map, key: u32:0, value: u64:1000000}\n"
	sc, err := Load(write(t, src))
	require.NoError(t, err)
	x, y := sc.Objects[0], sc.Objects[1]
	require.NotEqual(t, x.Maps[".data"], y.Maps[".data"])
	require.Equal(t, "x/.data", sc.MapDefs[x.Maps[".data"]].Name)
	// The created sockmap has the objects' shape: all three are one map.
	require.Equal(t, x.Maps["sock_map"], y.Maps["sock_map"])
	require.True(t, sc.MapDefs[x.Maps["sock_map"]].Created)
	require.Equal(t, x.Maps["sock_map"], sc.Maps[1].Map)
}

func TestLegacySectionNeedsAttach(t *testing.T) {
	// A program type that no section name gives must come from attach:.
	sc, err := Load(obj("pass.yaml"))
	require.NoError(t, err)
	require.Equal(t, ebpf.SkMsg, sc.Programs[0].Spec.Type)
	require.Equal(t, ebpf.AttachSkMsgVerdict, sc.Programs[0].Spec.AttachType)
}

func TestBundledScenariosValidate(t *testing.T) {
	files, err := filepath.Glob(testobj.Path("scenarios", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	pending, err := filepath.Glob(testobj.Path("scenarios", "pending", "*.yaml"))
	require.NoError(t, err)
	for _, f := range append(files, pending...) {
		_, err := Load(f)
		require.NoError(t, err, f)
	}
}

func TestRunValidatesFirst(t *testing.T) {
	// A parsed but unvalidated scenario with a bad key is refused before
	// any backend is asked to start.
	sc, err := ParseBytes(filepath.Join(t.TempDir(), "s.yaml"), []byte("object: "+obj("pass.o")+"\nmaps:\n  - {map: counters, key: u8:0, value: u64:0}\n"))
	require.NoError(t, err)
	_, err = Run(sc, nil, Options{})
	require.ErrorContains(t, err, "map counters has 4-byte keys")
}

// An attach or detach step may name a program that programs: does not
// list: it becomes an entry loaded on first use, shared by later steps.
func TestAttachStepLoadsOnDemand(t *testing.T) {
	src := "object: " + testobj.Path("scenarios", "redirect.o") + "\nsteps:\n" +
		"  - attach: {program: msg_redir_egress, map: sock_map, attach: sk_msg}\n" +
		"  - detach: {program: msg_redir_egress, map: sock_map, attach: sk_msg}\n"
	sc, err := ParseBytes(filepath.Join(testobj.Path("scenarios"), "x.yaml"), []byte(src))
	require.NoError(t, err)
	require.NoError(t, sc.Validate())
	require.Len(t, sc.Programs, 1)
	p := sc.Programs[0]
	require.True(t, p.OnDemand)
	require.Equal(t, ebpf.SkMsg, p.Spec.Type)
	require.Equal(t, p.ID, sc.Steps[0].Program.ID)
	require.Equal(t, p.ID, sc.Steps[1].Program.ID)
}
