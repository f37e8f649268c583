package scenario_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// A scenario file run from a test: the result says which steps held.
func ExampleRunFile() {
	res, err := scenario.RunFile("testdata/scenarios/redirect_ingress.yaml", kernel.New(), scenario.Options{})
	if err != nil {
		fmt.Println(err) // the file or an object cannot be used
		return
	}
	for _, f := range res.Failures() {
		fmt.Printf("%s: %s\n", f.Name(), f.Message)
	}
	fmt.Println(res.Passed())
}

func TestRunFileOnKernel(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
	res, err := scenario.RunFile(testobj.Path("scenarios", "redirect_ingress.yaml"), kernel.New(), scenario.Options{})
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Summary())
	// The bytes a.client sent were observed arriving at b.server.
	var got []byte
	for _, s := range res.Steps {
		if s.Phase == scenario.PhaseSteps && s.Number == 2 {
			got = s.Obs.Data
		}
	}
	require.Equal(t, []byte("to b.server"), got)
}

func TestRunFileReportsUnusableFile(t *testing.T) {
	_, err := scenario.RunFile(testobj.Path("scenarios", "missing.yaml"), kernel.New(), scenario.Options{})
	require.ErrorContains(t, err, "missing.yaml")
}
