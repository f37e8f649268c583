package kernelbtf

import (
	"bytes"
	"os"
	"testing"

	"github.com/skmsg/skmsg/internal/kernelbtf/gen/minimize"
	"github.com/stretchr/testify/require"
)

func TestRootsPresent(t *testing.T) {
	for _, n := range minimize.Roots {
		s, err := Lookup(n)
		require.NoError(t, err, n)
		require.Positive(t, s.Size, n)
	}
}

// The socket structs embed each other at offset 0, which is what lets one
// region serve sock, inet_sock and tcp_sock pointers alike.
func TestSocketStructsNest(t *testing.T) {
	tcp, err := Lookup("tcp_sock")
	require.NoError(t, err)
	for _, path := range []string{"inet_conn", "inet_conn.icsk_inet", "inet_conn.icsk_inet.sk", "inet_conn.icsk_inet.sk.__sk_common"} {
		f, err := tcp.Field(path)
		require.NoError(t, err, path)
		require.Zero(t, f.Offset, path)
	}
	fam, err := tcp.Field("inet_conn.icsk_inet.sk.__sk_common.skc_family")
	require.NoError(t, err)
	require.Equal(t, 2, fam.Size)
	sc, err := Lookup("sock_common")
	require.NoError(t, err)
	direct, err := sc.Field("skc_family")
	require.NoError(t, err)
	require.Equal(t, direct.Offset, fam.Offset, "skc_family is found through the anonymous union as in C")

	_, err = tcp.Field("no_such_member")
	require.ErrorContains(t, err, "no member")
}

func TestWriter(t *testing.T) {
	task, err := Lookup("task_struct")
	require.NoError(t, err)
	w := task.NewWriter()
	w.Put("pid", 1234)
	w.PutBytes("comm", []byte("skmsg"))
	require.NoError(t, w.Err)
	f, _ := task.Field("pid")
	require.Equal(t, byte(0xd2), w.Buf[f.Offset])
	w.PutBytes("comm", make([]byte, 100))
	require.ErrorContains(t, w.Err, "do not fit")
}

// The committed BTF is what the generator makes from this machine's
// kernel, when the kernel has BTF (on another kernel build the offsets may
// legitimately differ: then the test says so and skips).
func TestGeneratedFromThisKernel(t *testing.T) {
	f, err := os.Open("/sys/kernel/btf/vmlinux")
	if err != nil {
		t.Skipf("no kernel BTF to compare with: %v", err)
	}
	defer f.Close()
	fresh, err := minimize.FromReader(f)
	require.NoError(t, err)
	if !bytes.Equal(fresh, raw) {
		t.Skipf("the running kernel's types differ from the committed kernel.btf (%d vs %d bytes): another kernel build; regenerate with go generate ./internal/kernelbtf if this kernel is the new reference", len(fresh), len(raw))
	}
}
