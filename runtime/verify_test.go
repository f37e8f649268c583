package runtime

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/verifier"
)

// TestLoadVerifies: a program the kernel's verifier refuses is refused by
// Load with the kernel's errno and reason, and loads with NoVerify.
func TestLoadVerifies(t *testing.T) {
	// Reads the first byte of the message without checking data_end.
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"unchecked": {
		Name: "unchecked", Type: ebpf.SkMsg, AttachType: ebpf.AttachSkMsgVerdict, License: "GPL",
		Instructions: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.DWord),
			asm.LoadMem(asm.R0, asm.R2, 0, asm.Byte),
			asm.Mov.Imm(asm.R0, 1),
			asm.Return(),
		},
	}}}
	tests := []struct {
		name     string
		noVerify bool
		errno    error
		reason   string
	}{
		{name: "verified", errno: errno.EACCES, reason: "R2 offset is outside of the packet"},
		{name: "no-verify", noVerify: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := loader.FromSpec(spec)
			require.NoError(t, err)
			rt := New(Options{NoVerify: tc.noVerify})
			defer rt.Close()
			coll, err := rt.Load(obj)
			require.NoError(t, err)
			if tc.errno == nil {
				require.Contains(t, coll.Programs, "unchecked", "rejected: %v", coll.Rejected["unchecked"])
				return
			}
			err = coll.Rejected["unchecked"]
			require.ErrorIs(t, err, tc.errno)
			var ve *verifier.Error
			require.True(t, errors.As(err, &ve))
			require.Equal(t, tc.reason, ve.Reason)
			require.Equal(t, 1, ve.Insn)
		})
	}
}
