package verifier_test

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/verifiercorpus"
)

var record = flag.Bool("record", false, "load every program of testdata/verifier into the running kernel and write the verdicts to testdata/verifier/verdicts.json")

// TestRecordVerdicts re-records the kernel's verdicts on the corpus:
//
//	go test ./verifier -run TestRecordVerdicts -record
//
// Without -record it does nothing: the committed verdicts are the
// reference of the tests that run without BPF permission.
func TestRecordVerdicts(t *testing.T) {
	if !*record {
		t.Skip("re-record with -record (needs BPF permission)")
	}
	require.NoError(t, verifiercorpus.KernelAvailable(), "recording needs a kernel that loads BPF programs")
	cases, err := verifiercorpus.Cases()
	require.NoError(t, err)
	k := verifiercorpus.NewKernel()
	defer k.Close()
	f := &verifiercorpus.File{Kernel: kernelRelease(t)}
	accepted := 0
	for _, c := range cases {
		l, err := k.Verify(c)
		require.NoError(t, err)
		f.Verdicts = append(f.Verdicts, l.Verdict)
		if l.Verdict.Accepted {
			accepted++
		}
		t.Logf("%-60s %s", c.Key(), l.Verdict)
	}
	require.NoError(t, f.WriteFile(verifiercorpus.VerdictsPath()))
	t.Logf("%d programs: %d accepted, %d refused by kernel %s", len(cases), accepted, len(cases)-accepted, f.Kernel)
}

func kernelRelease(t *testing.T) string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	require.NoError(t, err, "read the kernel release")
	return string(trimNL(b))
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
