package verifierfuzz

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeReason(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"R7 invalid mem access 'scalar'", "RN invalid mem access 'scalar'"},
		{"invalid bpf_context access off=76 size=2", "invalid bpf_context access off=N size=N"},
		{"", ""},
	} {
		require.Equal(t, tt.want, normalizeReason(tt.in), tt.in)
	}
}
