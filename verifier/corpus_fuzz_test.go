package verifier_test

import (
	"flag"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/verifiercorpus"
	"github.com/skmsg/skmsg/verifier"
)

var fuzzStrict = flag.Bool("fuzz-strict", false, "FuzzVerifierDifferential also fails when skmsg accepts a program the kernel refuses")

// FuzzVerifierDifferential feeds skmsg's verifier mutants of the corpus
// programs and generated programs of the five attach kinds (the input
// picks which and seeds the randomness). It fails when the verifier
// panics, returns an error for a program (input it should judge, not
// reject as unusable) or judges the same program twice differently; with
// -fuzz-strict and BPF permission, also when it accepts a program the
// kernel refuses. The counting differential fuzzer with saved
// disagreements is go run ./internal/cmd/verifierfuzz.
func FuzzVerifierDifferential(f *testing.F) {
	cases, err := verifiercorpus.Cases()
	require.NoError(f, err)
	for i := range 16 {
		f.Add(uint64(i), uint8(i))
	}
	kernel := verifiercorpus.KernelAvailable() == nil
	f.Fuzz(func(t *testing.T, seed uint64, pick uint8) {
		r := rand.New(rand.NewPCG(seed, uint64(pick)))
		var p *verifier.Program
		if pick%2 == 0 {
			c := cases[int(pick/2)*len(cases)/128%len(cases)]
			p = verifier.FromLoader(c.Obj, c.Prog)
			p.Instructions = verifiercorpus.Mutate(r, c.Prog.Instructions, c.Prog.Maps)
		} else {
			kind := verifiercorpus.Kinds[int(pick/2)%len(verifiercorpus.Kinds)]
			p = &verifier.Program{Name: "fuzz", Type: kind.Type, AttachType: kind.AttachType, License: "GPL",
				Instructions: verifiercorpus.Generate(r, kind), Maps: map[string]*verifier.Map{}}
			for _, d := range verifiercorpus.GenMaps {
				p.Maps[d.Name] = &verifier.Map{Name: d.Name, Type: d.Type, KeySize: d.KeySize, ValueSize: d.ValueSize, MaxEntries: d.MaxEntries, Flags: d.Flags}
			}
		}
		res, err := verifier.Verify(p, verifier.Options{})
		require.NoError(t, err, "skmsg's verifier rejected a well-formed program as unusable:\n%v", p.Instructions)
		again, err := verifier.Verify(p, verifier.Options{})
		require.NoError(t, err)
		require.True(t, reflect.DeepEqual(res, again), "two verifications of one program differ:\n%v\nfirst: %+v\nsecond: %+v", p.Instructions, res, again)
		if *fuzzStrict && kernel && res.Accepted {
			requireKernelAccepts(t, p)
		}
	})
}

func requireKernelAccepts(t *testing.T, p *verifier.Program) {
	maps, err := verifiercorpus.CreateMaps(mapSpecsOf(p))
	if err != nil {
		t.Skipf("the kernel cannot create the program's maps from their sizes alone: %v", err)
	}
	defer verifiercorpus.CloseMaps(maps)
	l, err := verifiercorpus.LoadInsns(programSpecOf(p), p.Instructions, maps, false)
	require.NoError(t, err)
	require.True(t, l.Verdict.Accepted, "skmsg accepts a program the kernel refuses (%s):\n%v", l.Verdict, p.Instructions)
}
