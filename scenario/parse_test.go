package scenario

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown step field", "steps:\n  - send: {socket: a.client, sise: 3}\n",
			`x.yaml:2:30: steps[0].send: unknown field "sise" (expected one of socket, data, hex, size, pattern, iov, flags, expect)`},
		{"unknown top field", "nmae: x\n", `x.yaml:1:1: unknown field "nmae" (expected one of name, seed, object,`},
		{"duplicate field", "name: a\nname: b\n", `x.yaml:2:1: duplicate field "name"`},
		{"two operations", "steps:\n  - send: {socket: a, data: x}\n    recv: {socket: a}\n", `x.yaml:3:5: steps[0]: a step does one thing: found both "send" and "recv"`},
		{"no operation", "steps:\n  - expect: {ret: 1}\n", `x.yaml:2:5: steps[0]: missing the operation`},
		{"unknown errno", "steps:\n  - close: {socket: a, expect: {error: EFOO}}\n", `x.yaml:2:40: steps[0].close.expect.error: unknown errno "EFOO"`},
		{"ret not for close", "steps:\n  - close: {socket: a}\n    expect: {ret: 1}\n", `x.yaml:3:14: steps[0].close.expect: unknown field "ret" (expected one of error)`},
		{"two payloads", "steps:\n  - send: {socket: a, data: x, hex: 00}\n", `steps[0].send.hex: give one of data, hex or size+pattern, not data and hex`},
		{"pattern without size", "steps:\n  - send: {socket: a, pattern: seq}\n", `steps[0].send.pattern: pattern needs size`},
		{"size without pattern", "steps:\n  - send: {socket: a, size: 3}\n", `steps[0].send.size: size needs a pattern`},
		{"unknown pattern", "steps:\n  - send: {socket: a, size: 3, pattern: ones}\n", `unknown pattern "ones" (expected one of seq, zero, random)`},
		{"bad value type", "maps:\n  - {map: m, key: u33:1, value: u32:0}\n", `x.yaml:2:19: maps[0].key: field "u33:1": unknown type "u33"`},
		{"value overflow", "maps:\n  - {map: m, key: u8:256, value: u32:0}\n", `maps[0].key: field "u8:256": "256" is not a 8-bit number`},
		{"update without value", "maps:\n  - {map: m, key: u32:0}\n", `maps[0]: missing field "value" or "socket"`},
		{"bad flag", "steps:\n  - update: {map: m, key: u32:0, socket: a, flags: ALWAYS}\n", `unknown flag "ALWAYS" (expected one of ANY, NOEXIST, EXIST)`},
		{"bad send flag", "steps:\n  - send: {socket: a, data: x, flags: [MSG_PEEK]}\n", `unknown flag "MSG_PEEK"`},
		{"bad attach", "programs:\n  - {program: p, attach: xdp, map: m}\n", `programs[0].attach: unknown attach type "xdp"`},
		{"bad address", "connections:\n  - {name: a, client: 10.0.0}\n", `connections[0].client: "10.0.0" is not an address`},
		{"bracketed IPv4 address", "connections:\n  - {name: a, client: \"[10.0.0.1]\"}\n", `connections[0].client: "[10.0.0.1]" is not an address`},
		{"mixed families", "connections:\n  - {name: a, client: 10.0.0.1, server: \"fd00::1\"}\n", `are of different address families`},
		{"object and objects", "object: a.o\nobjects: []\n", `objects: give either object or objects, not both`},
		{"not a mapping", "- a\n", `x.yaml:1:1: expected a mapping`},
		{"bad shutdown", "steps:\n  - shutdown: {socket: a, how: both}\n", `unknown "both" (expected one of rd, wr, rdwr)`},
		{"bad sockopt", "steps:\n  - sockopt: {socket: a, name: SO_LINGER, value: 1}\n", `unknown option "SO_LINGER"`},
		{"yaml syntax", "steps: [\n", `x.yaml:1:1: invalid YAML: did not find expected node content`},
		{"max not positive", "steps:\n  - recv: {socket: a, max: 0}\n", `steps[0].recv.max: must be positive`},
		{"peek not bool", "steps:\n  - recv: {socket: a, peek: yes}\n", `expected true or false, found "yes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBytes("x.yaml", []byte(tt.src))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseFields(t *testing.T) {
	src := `
name: everything
seed: 7
object: x.o
programs:
  - {program: p, attach: sk_msg, map: m, expect: {rejected: true}}
listeners:
  - {name: l1, addr: "[fd00::2]:80"}
  - {name: l2}
connections:
  - name: a
  - {name: b, client: 10.0.0.1:5000, server: 10.0.0.2:8080}
steps:
  - send: {socket: a.client, iov: ["abc", {size: 4, pattern: seq}, {hex: "0a 0b"}], flags: [MSG_DONTWAIT, MSG_MORE]}
    expect: {ret: 9}
  - recv: {socket: a.server, max: 10, peek: true, eof: false, data: "abc"}
  - update: {map: m, key: u32:0, socket: a.server, flags: NOEXIST}
  - lookup: {map: m, key: u32:0, cookie_of: a.server}
  - connect: {name: c, to: l1, client: "fd00::1"}
  - fionread: {socket: a.server, value: 0}
  - sockopt: {socket: a.server, name: SO_RCVBUF, value: 0x400000}
  - shutdown: {socket: a.client, how: rdwr}
  - close: {socket: a.client, expect: {error: EBADF}}
`
	sc, err := ParseBytes("dir/x.yaml", []byte(src))
	require.NoError(t, err)
	require.Equal(t, "everything", sc.Name)
	require.Equal(t, uint64(7), sc.Seed)
	require.Equal(t, "dir/x.o", sc.Objects[0].Path)
	require.True(t, sc.Programs[0].ExpectRejected)
	require.Equal(t, ebpf.AttachSkMsgVerdict, sc.Programs[0].Attach)
	require.Equal(t, "[fd00::2]:80", sc.Listeners[0].Addr.String())
	require.Equal(t, "127.0.3.2:0", sc.Listeners[1].Addr.String())
	require.Equal(t, "127.0.1.1:0", sc.Connections[0].Client.String())
	require.Equal(t, "127.0.2.1:0", sc.Connections[0].Server.String())
	require.Equal(t, "10.0.0.1:5000", sc.Connections[1].Client.String())

	send := sc.Steps[0]
	require.Len(t, send.IOV, 3)
	require.Equal(t, []byte("abc"), send.IOV[0].Bytes(0))
	require.Equal(t, []byte{0, 1, 2, 3}, send.IOV[1].Bytes(0))
	require.Equal(t, []byte{0x0a, 0x0b}, send.IOV[2].Bytes(0))
	require.Equal(t, []string{"MSG_DONTWAIT", "MSG_MORE"}, send.SendFlags)
	require.Equal(t, int64(9), *send.Expect.Ret)
	require.Equal(t, 14, send.Pos.Line)

	recv := sc.Steps[1]
	require.Equal(t, 10, recv.Max)
	require.True(t, recv.Peek)
	require.False(t, *recv.EOF)
	require.Equal(t, []byte("abc"), recv.Want.Data)

	require.Equal(t, "NOEXIST", sc.Steps[2].MapFlagStr)
	require.Equal(t, "a.server", sc.Steps[3].CookieOf)
	require.Equal(t, "[fd00::1]:0", sc.Steps[4].Client.String())
	require.Equal(t, int64(0), *sc.Steps[5].IntValue)
	require.Equal(t, int64(0x400000), *sc.Steps[6].IntValue)
	require.Equal(t, 2, sc.Steps[7].How)
	require.Equal(t, Errno(9), sc.Steps[8].Expect.Errno)
	require.Equal(t, "EBADF", sc.Steps[8].Expect.Errno.String())
}

func TestErrorsAreAllReported(t *testing.T) {
	_, err := ParseBytes("x.yaml", []byte("steps:\n  - send: {socket: a, sise: 1}\n  - recv: {socket: a, mx: 1}\n"))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 3, err.Error()) // two unknown fields, one missing payload
	require.Contains(t, err.Error(), `x.yaml:3:23: steps[1].recv: unknown field "mx"`)
}

// Addresses as people write them: IPv6 in brackets with or without a port.
func TestParseAddresses(t *testing.T) {
	for _, tc := range []struct{ in, server, want string }{
		{"10.0.0.1", "10.0.0.2", "10.0.0.1:0"},
		{"10.0.0.1:80", "10.0.0.2", "10.0.0.1:80"},
		{"fd00::1", "fd00::2", "[fd00::1]:0"},
		{"[fd00::1]", "[fd00::2]", "[fd00::1]:0"},
		{"[::1]", "[::1]:80", "[::1]:0"},
		{"[fd00::1]:80", "[fd00::2]:80", "[fd00::1]:80"},
		{"[::ffff:10.0.0.1]", "10.0.0.2", "10.0.0.1:0"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			sc, err := ParseBytes("x.yaml", []byte("connections:\n  - {name: a, client: \""+tc.in+"\", server: \""+tc.server+"\"}\n"))
			require.NoError(t, err)
			require.Equal(t, tc.want, sc.Connections[0].Client.String())
		})
	}
}

// Connections without addresses get their own beyond the first 254.
func TestDefaultAddressesBeyond254(t *testing.T) {
	var b strings.Builder
	b.WriteString("connections:\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "  - {name: c%d}\n", i)
	}
	sc, err := ParseBytes("x.yaml", []byte(b.String()))
	require.NoError(t, err)
	seen := map[netip.Addr]string{}
	for _, c := range sc.Connections {
		for _, a := range []netip.Addr{c.Client.Addr(), c.Server.Addr()} {
			require.NotContains(t, seen, a, "%s: address %s already used by %s", c.Name, a, seen[a])
			require.True(t, a.IsLoopback(), a)
			seen[a] = c.Name
		}
	}
	require.Equal(t, "127.0.1.1:0", sc.Connections[0].Client.String())
	require.Equal(t, "127.1.1.1:0", sc.Connections[254].Client.String())
}
