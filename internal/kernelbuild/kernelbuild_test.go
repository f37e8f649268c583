package kernelbuild_test

import (
	"testing"

	"github.com/skmsg/skmsg/internal/kernelbuild"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// TestProbe probes the running kernel and prints which build it is.
func TestProbe(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
	b, err := kernelbuild.Probe()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("running kernel: %s", b)
	again, err := kernelbuild.Probe()
	if err != nil || again != b {
		t.Fatalf("second probe: %v, %v; want the cached %v", again, err, b)
	}
}
