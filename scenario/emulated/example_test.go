package emulated_test

import (
	"fmt"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// A scenario file run from a go test on skmsg's own runtime: no root, no
// kernel, no network. The result holds every step's outcome and what it
// observed.
func ExampleBackend() {
	res, err := scenario.RunFile("../../testdata/scenarios/redirect_ingress.yaml", &emulated.Backend{}, scenario.Options{})
	if err != nil {
		fmt.Println(err) // the file or an object cannot be used
		return
	}
	for _, f := range res.Failures() {
		fmt.Printf("%s: %s\n", f.Name(), f.Message)
	}
	fmt.Println(res.Passed())
	for _, s := range res.Steps {
		if s.Phase == scenario.PhaseSteps && s.Kind == "recv" && len(s.Obs.Data) > 0 {
			fmt.Printf("step %d read %q\n", s.Number, s.Obs.Data[:min(len(s.Obs.Data), 11)])
		}
	}
	// Output:
	// true
	// step 2 read "to b.server"
	// step 6 read "\x00\x01\x02\x03\x04\x05\x06\a\b\t\n"
}

// Tracing a run: every program run of each step, with its verdict and the
// instructions it executed.
func ExampleBackend_Runs() {
	b := &emulated.Backend{Trace: true}
	res, err := scenario.RunFile("../../testdata/scenarios/redirect_ingress.yaml", b, scenario.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, runs := range b.Runs() {
		s := res.Steps[i]
		for _, r := range runs {
			fmt.Printf("%s: %s on %s: %s %s\n", s.Name(), r.Program, r.Socket, r.Verdict, r.Target)
		}
	}
	// Output:
	// step 1 (line 13) send: msg_redir_ingress on a.client: redirect b.server
	// step 5 (line 18) send: msg_redir_ingress on a.client: redirect b.server
	// step 10 (line 25) send: msg_redir_ingress on a.client: drop
}
