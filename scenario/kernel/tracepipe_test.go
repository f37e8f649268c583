//go:build linux

package kernel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// bpf_printk output lands under the step whose program printed it.
func TestTracePipe(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
	res, err := scenario.RunFile(testobj.Path("scenarios", "printk.yaml"), &kernel.Backend{TracePipe: true}, scenario.Options{})
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Summary())
	var send *scenario.StepResult
	for i := range res.Steps {
		if s := &res.Steps[i]; s.Phase == scenario.PhaseSteps && s.Kind == "send" {
			send = s
		}
	}
	require.NotNil(t, send)
	if len(send.Obs.Logs) == 0 {
		t.Skip("no trace_pipe output: tracing not available here")
	}
	require.Contains(t, send.Obs.Logs, "skmsg scenario: msg size 5")
}
