package runtime

import (
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
)

func TestHelperName(t *testing.T) {
	for fn, want := range map[asm.BuiltinFunc]string{
		asm.FnGetSocketCookie: "get_socket_cookie", asm.FnMsgRedirectMap: "msg_redirect_map",
		asm.FnSkcToTcp6Sock: "skc_to_tcp6_sock", asm.FnL3CsumReplace: "l3_csum_replace",
		asm.FnGetCurrentPidTgid: "get_current_pid_tgid", asm.FnProbeReadKernelStr: "probe_read_kernel_str",
	} {
		require.Equal(t, want, helperName(fn))
	}
}
