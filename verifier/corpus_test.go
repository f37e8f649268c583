package verifier_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/verifiercorpus"
)

// TestCorpusVerdictsCommitted checks the committed verdicts cover the
// corpus exactly, and that the corpus is what it claims to be: at least
// 300 programs of the five sockmap attach kinds, each kind with accepted
// and refused programs, and names that say the verdict ("_ok_" accepted,
// "_bad_" refused) agreeing with the kernel's.
func TestCorpusVerdictsCommitted(t *testing.T) {
	cases, err := verifiercorpus.Cases()
	require.NoError(t, err)
	f, err := verifiercorpus.ReadFile(verifiercorpus.VerdictsPath())
	require.NoError(t, err)
	committed := f.Map()
	require.GreaterOrEqual(t, len(cases), 300, "the corpus has fewer than 300 programs")

	seen := map[string]bool{}
	perKind := map[string][2]int{}
	for _, c := range cases {
		v, ok := committed[c.Key()]
		if !ok {
			t.Errorf("%s has no committed verdict: re-record with go test ./verifier -run TestRecordVerdicts -record", c.Key())
			continue
		}
		seen[c.Key()] = true
		require.Equal(t, c.Prog.Section, v.Section, "%s: section", c.Key())
		n := perKind[v.Section]
		if v.Accepted {
			n[0]++
		} else {
			n[1]++
			require.NotEmpty(t, v.Errno, "%s: refused without an errno", c.Key())
			require.NotEmpty(t, v.Reason, "%s: refused without a reason", c.Key())
		}
		perKind[v.Section] = n
		name := c.Prog.Name
		if strings.Contains(name, "_ok_") || strings.HasSuffix(name, "_ok") {
			require.True(t, v.Accepted, "%s is named as accepted but the kernel refused it: %s", c.Key(), v)
		}
		if strings.Contains(name, "_bad_") {
			require.False(t, v.Accepted, "%s is named as refused but the kernel accepted it", c.Key())
		}
	}
	for k := range committed {
		require.True(t, seen[k], "committed verdict %s has no program in the corpus", k)
	}
	for _, kind := range []string{"sk_msg", "sk_skb/stream_parser", "sk_skb/stream_verdict", "sk_skb/verdict", "sockops"} {
		n := perKind[kind]
		require.Positive(t, n[0], "no accepted %s program", kind)
		require.Positive(t, n[1], "no refused %s program", kind)
		t.Logf("%-22s %3d accepted %3d refused", kind, n[0], n[1])
	}
}
