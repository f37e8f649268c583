package emulated_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// newSkmsgSession opens a scenario session on the runtime through the
// scenario package's own skmsg backend, so a test drives skmsg and the
// kernel oracle's session through the same calls.
func newSkmsgSession(t testing.TB) scenario.Session {
	t.Helper()
	s, err := (&emulated.Backend{}).NewSession(&scenario.Env{
		Addresses:   []netip.Addr{netip.MustParseAddr("127.0.0.1")},
		IdleTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
