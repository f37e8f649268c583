package vm

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// ErrStop, returned by a helper, ends the program at once: Run returns the
// helper's return value as r0 and a nil error. It lets helpers such as an
// abort or exit primitive stop a program without it being a failure.
var ErrStop = errors.New("program stopped by helper")

// ErrUnknownHelper is the cause of a run-time stop when a computed call
// (callx) names a helper the program type does not allow.
var ErrUnknownHelper = errors.New("call of a helper not allowed for the program")

// HelperError is what Run returns when a helper fails: it names the helper,
// the program and the pc of the call.
type HelperError struct {
	Program string
	PC      int
	Helper  string // kernel name without the bpf_ prefix, or the BuiltinFunc name
	ID      asm.BuiltinFunc
	Err     error
}

func (e *HelperError) Error() string {
	return fmt.Sprintf("program %s: pc %d: helper %s (#%d): %v", e.Program, e.PC, e.Helper, uint32(e.ID), e.Err)
}

func (e *HelperError) Unwrap() error { return e.Err }

func (k FaultKind) String() string {
	switch k {
	case FaultUnmapped:
		return "unmapped address"
	case FaultBounds:
		return "out of bounds"
	case FaultPermission:
		return "permission denied"
	case FaultAccessor:
		return "refused by accessor"
	case FaultAlignment:
		return "misaligned atomic"
	}
	return fmt.Sprintf("FaultKind(%d)", uint8(k))
}

// FaultAlignment is an atomic access at an address that is not a multiple
// of its size (the kernel verifier rejects these).
const FaultAlignment FaultKind = FaultAccessor + 1

func (f *Fault) error() string {
	op := "read"
	if f.Write {
		op = "write"
	}
	where := "unmapped region"
	if f.Region != "" {
		where = "region " + f.Region
	}
	s := fmt.Sprintf("program %s: pc %d (%s): %s of %d bytes at %#x (%s, offset %#x): %s",
		f.Program, f.PC, f.Insn, op, f.Size, f.Addr, where, f.Addr&OffsetMask, f.Kind)
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}
