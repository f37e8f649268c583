package verifier

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/verifiercorpus"
)

// knownDisagreements are corpus programs the kernel refuses and skmsg's
// verifier accepts, with why (see docs/differences.md).
var knownDisagreements = map[string]string{
	// Global (non-static) functions are verified on their own from their
	// BTF signature; skmsg verifies them inline like static ones.
	"calls.o/sverdict_call_bad_global_unchecked_arg": "global functions are verified inline",
}

// TestCorpusAgreement verifies every program of the verifier corpus and
// compares with the kernel's recorded verdict: the same verdict and, for
// refusals, the same errno.
func TestCorpusAgreement(t *testing.T) {
	cases, err := verifiercorpus.Cases()
	require.NoError(t, err)
	f, err := verifiercorpus.ReadFile(verifiercorpus.VerdictsPath())
	require.NoError(t, err)
	want := f.Map()
	var agree, sameReason int
	for _, c := range cases {
		k, ok := want[c.Key()]
		if !ok {
			continue
		}
		res, err := Verify(FromLoader(c.Obj, c.Prog), Options{})
		require.NoError(t, err, c.Key())
		if why, ok := knownDisagreements[c.Key()]; ok {
			t.Logf("%s: known disagreement (%s): kernel %v, skmsg %v", c.Key(), why, k.Accepted, res.Accepted)
			continue
		}
		if k.Accepted {
			if !res.Accepted {
				t.Errorf("%s: the kernel accepts it, skmsg refuses it: %s (%s) at insn %d", c.Key(), res.Reason, ErrnoName(res.Errno), res.Insn)
			}
			agree++
			continue
		}
		if res.Accepted {
			t.Errorf("%s: the kernel refuses it (%s: %s), skmsg accepts it", c.Key(), k.Errno, k.Reason)
			continue
		}
		if ErrnoName(res.Errno) != k.Errno {
			t.Errorf("%s: errno: kernel %s (%s), skmsg %s (%s)", c.Key(), k.Errno, k.Reason, ErrnoName(res.Errno), res.Reason)
			continue
		}
		agree++
		if res.Reason == k.Reason {
			sameReason++
		} else {
			t.Logf("%s: reason: kernel %q, skmsg %q", c.Key(), k.Reason, res.Reason)
		}
	}
	t.Logf("%d of %d programs agree (%d refusals with the kernel's exact reason)", agree, len(cases), sameReason)
}
