package scenario

import (
	"errors"

	"github.com/cilium/ebpf"
)

// verifierLog is the whole log of the verifier that refused a program:
// the kernel's (cilium/ebpf keeps it in a VerifierError), or that of a
// backend whose error has a VerifierLog method. Error messages carry
// only its last lines.
func verifierLog(err error) []string {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return ve.Log
	}
	var vl interface{ VerifierLog() []string }
	if errors.As(err, &vl) {
		return vl.VerifierLog()
	}
	return nil
}
