package errno

import (
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNamesRoundTrip(t *testing.T) {
	for _, n := range Names() {
		e, ok := Parse(n)
		require.True(t, ok, n)
		require.Equal(t, n, Name(e))
	}
	_, ok := Parse("ENOSUCH")
	require.False(t, ok)
	require.Equal(t, "errno 4095", Name(4095))
}

func TestLinuxNumbers(t *testing.T) {
	tests := []struct {
		e    syscall.Errno
		want int
	}{
		{EAGAIN, 11}, {EACCES, 13}, {EINVAL, 22}, {EOPNOTSUPP, 95},
		{ECONNRESET, 104}, {ETIMEDOUT, 110}, {ENOTSUPP, 524},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, int(tt.e), Name(tt.e))
	}
	require.Equal(t, "operation not supported (ENOTSUPP)", String(ENOTSUPP))
}

func TestHostErrnoMapsToLinux(t *testing.T) {
	require.Equal(t, ECONNRESET, FromHost(syscall.ECONNRESET))
	require.Equal(t, EAGAIN, FromHost(syscall.EAGAIN))
	if goruntime.GOOS == "linux" {
		// On Linux skmsg's errnos are syscall's, so users' errors.Is
		// against syscall constants works.
		require.Equal(t, syscall.ECONNRESET, ECONNRESET)
	}
}

func TestOf(t *testing.T) {
	e, ok := Of(&os.SyscallError{Syscall: "x", Err: EPIPE})
	require.True(t, ok)
	require.Equal(t, EPIPE, e)
	_, ok = Of(os.ErrClosed)
	require.False(t, ok)
	e, ok = Of(nil)
	require.True(t, ok)
	require.Zero(t, e)
}

// The package is the one place that gives Linux numbers to other systems,
// so it must build there.
func TestBuildsOffLinux(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the package; skipped in -short")
	}
	gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		t.Skipf("no go command to cross-compile with: %v", err)
	}
	for _, goos := range []string{"darwin", "windows"} {
		cmd := exec.Command(gobin, "vet", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "GOOS=%s go vet ./internal/errno:\n%s", goos, out)
	}
}
