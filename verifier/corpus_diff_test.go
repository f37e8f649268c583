package verifier_test

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/verifiercorpus"
	"github.com/skmsg/skmsg/verifier"
)

var updateDisagreements = flag.Bool("update-disagreements", false, "rewrite testdata/verifier/disagreements.txt with the corpus programs on which skmsg's verifier and the kernel disagree today")

// disagreementsPath lists the corpus programs skmsg's verifier does not
// yet judge like the kernel. The differential test fails on a
// disagreement that is not listed; the list only ever shrinks (the goal
// is an empty file).
func disagreementsPath() string {
	return filepath.Join(verifiercorpus.Dir(), "disagreements.txt")
}

// skmsgVerdict runs skmsg's verifier on a corpus program.
func skmsgVerdict(t testing.TB, c verifiercorpus.Case) verifiercorpus.Verdict {
	res, err := verifier.Verify(verifier.FromLoader(c.Obj, c.Prog), verifier.Options{LogLevel: 1})
	require.NoError(t, err, "%s: skmsg's verifier could not take the program", c.Key())
	return verifiercorpus.Verdict{
		Object: c.Object, Program: c.Prog.Name, Section: c.Prog.Section,
		Accepted: res.Accepted, Errno: verifier.ErrnoName(res.Errno), Reason: res.Reason, Insn: res.Insn,
	}
}

// kernelVerdicts are the kernel's verdicts on the corpus: the running
// kernel's when programs can be loaded (a program whose verdict differs
// from the committed one is logged: the kernel changed, re-record), the
// committed ones otherwise. The running kernel is asked for accepted and
// errno; its reason is fetched only where those differ from the
// committed verdict (see Kernel.Check).
func kernelVerdicts(t *testing.T, cases []verifiercorpus.Case) (map[string]verifiercorpus.Verdict, string) {
	f, err := verifiercorpus.ReadFile(verifiercorpus.VerdictsPath())
	require.NoError(t, err)
	committed := f.Map()
	if why := verifiercorpus.KernelAvailable(); why != nil {
		t.Logf("comparing with the verdicts of kernel %s committed in %s: %v", f.Kernel, verifiercorpus.VerdictsPath(), why)
		return committed, "committed kernel " + f.Kernel
	}
	k := verifiercorpus.NewKernel()
	defer k.Close()
	live := map[string]verifiercorpus.Verdict{}
	changed := 0
	for _, c := range cases {
		old, ok := committed[c.Key()]
		var known *verifiercorpus.Verdict
		if ok {
			known = &old
		}
		l, err := k.Check(c, known)
		require.NoError(t, err)
		live[c.Key()] = l.Verdict
		switch {
		case !ok:
			t.Logf("%s: no committed verdict; the running kernel says %s", c.Key(), l.Verdict)
			changed++
		case !old.Same(l.Verdict) || old.Reason != l.Verdict.Reason:
			t.Logf("%s: the running kernel says %s, the committed verdict (kernel %s) is %s", c.Key(), l.Verdict, f.Kernel, old)
			changed++
		}
	}
	if changed > 0 {
		t.Logf("%d programs have a verdict on this kernel that differs from the committed one: re-record with go test ./verifier -run TestRecordVerdicts -record", changed)
	}
	return live, "running kernel"
}

// TestCorpusDifferential requires skmsg's verifier to give every corpus
// program the kernel's verdict: accepted, or refused with the same errno.
// Programs listed in testdata/verifier/disagreements.txt are known
// disagreements (logged, not failed) until the engine handles them; an
// unlisted disagreement fails, and -update-disagreements rewrites the
// list.
func TestCorpusDifferential(t *testing.T) {
	cases, err := verifiercorpus.Cases()
	require.NoError(t, err)
	ref, source := kernelVerdicts(t, cases)
	known, err := readDisagreements(disagreementsPath())
	require.NoError(t, err)

	var st diffStats
	var now []string
	lines := map[string]string{}
	for _, c := range cases {
		kv, ok := ref[c.Key()]
		require.True(t, ok, "%s has no kernel verdict", c.Key())
		sv := skmsgVerdict(t, c)
		st.add(kv, sv)
		if sv.Reason == kv.Reason && !kv.Accepted && kv.Same(sv) {
			st.sameReason++
		}
		if kv.Same(sv) {
			if known[c.Key()] {
				st.fixed = append(st.fixed, c.Key())
			}
			continue
		}
		now = append(now, c.Key())
		lines[c.Key()] = fmt.Sprintf("kernel: %s | skmsg: %s", kv, sv)
		msg := fmt.Sprintf("%s (%s):\n\tkernel: %s\n\tskmsg:  %s", c.Key(), c.Prog.Section, kv, sv)
		if known[c.Key()] || *updateDisagreements {
			t.Logf("known disagreement %s", msg)
		} else {
			t.Errorf("new disagreement %s", msg)
		}
	}
	t.Logf("%d programs against the %s: %d both accepted, %d both refused with the same errno (%d with the same reason line), %d skmsg-only accepted, %d kernel-only accepted, %d refused by both with another errno",
		len(cases), source, st.bothAccepted, st.bothRefused, st.sameReason, st.skmsgOnly, st.kernelOnly, st.errnoDiffers)
	if len(st.fixed) > 0 {
		t.Logf("%d listed disagreements now agree; shrink the list with -update-disagreements: %s", len(st.fixed), strings.Join(st.fixed, ", "))
	}
	if *updateDisagreements {
		require.NoError(t, writeDisagreements(disagreementsPath(), now, lines))
		t.Logf("wrote %d disagreements to %s", len(now), disagreementsPath())
	}
}

type diffStats struct {
	bothAccepted, bothRefused, skmsgOnly, kernelOnly, errnoDiffers, sameReason int
	fixed                                                                      []string
}

func (s *diffStats) add(kv, sv verifiercorpus.Verdict) {
	switch {
	case kv.Accepted && sv.Accepted:
		s.bothAccepted++
	case !kv.Accepted && !sv.Accepted && kv.Errno == sv.Errno:
		s.bothRefused++
	case !kv.Accepted && !sv.Accepted:
		s.errnoDiffers++
	case sv.Accepted:
		s.skmsgOnly++
	default:
		s.kernelOnly++
	}
}

// readDisagreements reads the known-disagreement list: one
// "object.o/program" a line, anything after whitespace is a comment, as
// are lines starting with '#'.
func readDisagreements(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read known disagreements: %w", err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out[strings.Fields(l)[0]] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read known disagreements %s: %w", path, err)
	}
	return out, nil
}

func writeDisagreements(path string, keys []string, lines map[string]string) error {
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Corpus programs on which skmsg's verifier and the kernel disagree today.\n")
	b.WriteString("# TestCorpusDifferential fails on any disagreement not listed here; the goal\n")
	b.WriteString("# is an empty list. Rewrite with: go test ./verifier -run TestCorpusDifferential -update-disagreements\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s  # %s\n", k, lines[k])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write known disagreements: %w", err)
	}
	return nil
}
