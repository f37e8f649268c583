package verifier_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/verifiercorpus"
	"github.com/skmsg/skmsg/verifier"
)

// BenchmarkCorpusVerifyVsKernel verifies every corpus program with
// skmsg's verifier and loads it into the kernel (no log, maps made
// beforehand), in the same run, and reports the time per program of
// each and their ratio (skmsg/kernel: below 1 is faster than the
// kernel). Without BPF permission only skmsg's half runs.
//
//	go test ./verifier -run '^$' -bench CorpusVerifyVsKernel
func BenchmarkCorpusVerifyVsKernel(b *testing.B) {
	cases, err := verifiercorpus.Cases()
	require.NoError(b, err)
	progs := make([]*verifier.Program, len(cases))
	for i, c := range cases {
		progs[i] = verifier.FromLoader(c.Obj, c.Prog)
	}
	kernel := verifiercorpus.KernelAvailable() == nil
	var maps []map[string]*ebpf.Map
	if kernel {
		for _, c := range cases {
			m, err := verifiercorpus.ProgramMaps(c.Obj, c.Prog)
			require.NoError(b, err)
			maps = append(maps, m)
		}
		defer func() {
			for _, m := range maps {
				verifiercorpus.CloseMaps(m)
			}
		}()
	} else {
		b.Log("no BPF permission: timing skmsg's verifier only")
	}

	skmsgTime := make([]time.Duration, len(cases))
	kernelTime := make([]time.Duration, len(cases))
	b.ResetTimer()
	for range b.N {
		for i, c := range cases {
			start := time.Now()
			if _, err := verifier.Verify(progs[i], verifier.Options{}); err != nil {
				b.Fatalf("%s: %v", c.Key(), err)
			}
			skmsgTime[i] += time.Since(start)
			if !kernel {
				continue
			}
			l, err := verifiercorpus.LoadInsns(c.Prog.Spec, c.Prog.Instructions, maps[i], true)
			if err != nil {
				b.Fatalf("%s: %v", c.Key(), err)
			}
			kernelTime[i] += l.Took
		}
	}
	b.StopTimer()

	var sk, kt time.Duration
	for i := range cases {
		sk += skmsgTime[i]
		kt += kernelTime[i]
	}
	n := float64(b.N * len(cases))
	b.ReportMetric(float64(sk.Nanoseconds())/n, "skmsg-ns/prog")
	if !kernel {
		return
	}
	b.ReportMetric(float64(kt.Nanoseconds())/n, "kernel-ns/prog")
	b.ReportMetric(float64(sk)/float64(kt), "skmsg/kernel")
	// the programs where skmsg is slowest next to the kernel
	idx := make([]int, len(cases))
	for i := range idx {
		idx[i] = i
	}
	ratio := func(i int) float64 { return float64(skmsgTime[i]) / float64(max(kernelTime[i], 1)) }
	sort.Slice(idx, func(a, c int) bool { return ratio(idx[a]) > ratio(idx[c]) })
	b.ReportMetric(ratio(idx[len(idx)/2]), "median-skmsg/kernel")
	var worst string
	for _, i := range idx[:min(5, len(idx))] {
		worst += fmt.Sprintf(" %s %.2fx (%s vs %s);", cases[i].Key(), ratio(i), skmsgTime[i]/time.Duration(b.N), kernelTime[i]/time.Duration(b.N))
	}
	b.Logf("%d programs, %d rounds: skmsg %s, kernel %s in all; slowest next to the kernel:%s", len(cases), b.N, sk, kt, worst)
}
