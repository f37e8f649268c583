package helpers

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
)

func TestRecordedTableParses(t *testing.T) {
	tab, err := Parse(recorded)
	require.NoError(t, err)
	require.NotEmpty(t, tab.Kernel, "the table names the kernel it was recorded on")
	// Formatting and parsing again gives the same table.
	again, err := Parse(tab.Format())
	require.NoError(t, err)
	require.Equal(t, tab, again)
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "# kernel x\n", "no helpers"},
		{"fields", "1 map_lookup_elem y y\n", "4 columns"},
		{"column", "1 map_lookup_elem y y x y\n", "want y, s or -"},
		{"id", "zero map_lookup_elem y y y y\n", "not a positive number"},
		{"gap", "1 a y y y y\n3 c y y y y\n", "helper 2 missing"},
		{"dup", "1 a y y y y\n1 a y y y y\n", "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.text)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNameFromAsm(t *testing.T) {
	for id, want := range map[asm.BuiltinFunc]string{
		asm.FnMapLookupElem:        "map_lookup_elem",
		asm.FnSkcToTcp6Sock:        "skc_to_tcp6_sock",
		asm.FnL3CsumReplace:        "l3_csum_replace",
		asm.FnGetNsCurrentPidTgid:  "get_ns_current_pid_tgid",
		asm.FnSkbLoadBytesRelative: "skb_load_bytes_relative",
		asm.BuiltinFunc(100000):    "helper_100000",
	} {
		require.Equal(t, want, nameFromAsm(id))
	}
}

func TestHookOf(t *testing.T) {
	for _, tc := range []struct {
		t    ebpf.ProgramType
		at   ebpf.AttachType
		want Hook
		ok   bool
	}{
		{ebpf.SkMsg, ebpf.AttachSkMsgVerdict, SkMsg, true},
		{ebpf.SkSKB, ebpf.AttachSkSKBStreamParser, SkSkbParser, true},
		{ebpf.SkSKB, ebpf.AttachSkSKBStreamVerdict, SkSkbVerdict, true},
		{ebpf.SkSKB, ebpf.AttachNone, SkSkbVerdict, true},
		{ebpf.SockOps, ebpf.AttachCGroupSockOps, SockOps, true},
		{ebpf.XDP, ebpf.AttachNone, 0, false},
	} {
		h, ok := HookOf(tc.t, tc.at)
		require.Equal(t, tc.ok, ok, "%s", tc.t)
		if ok {
			require.Equal(t, tc.want, h)
			require.Equal(t, tc.t, h.ProgramType())
		}
	}
}

// The table knows what every sockmap program is for: the redirect helpers
// of one type are not offered to another.
func TestRedirectHelpersPerHook(t *testing.T) {
	require.True(t, Allowed(SkMsg, asm.FnMsgRedirectMap))
	require.False(t, Allowed(SkSkbVerdict, asm.FnMsgRedirectMap))
	require.True(t, Allowed(SkSkbVerdict, asm.FnSkRedirectMap))
	require.True(t, Allowed(SockOps, asm.FnSockMapUpdate))
	require.False(t, Allowed(SkMsg, asm.FnSockMapUpdate))
	require.False(t, Known(Kernel().MaxID+1))
}
