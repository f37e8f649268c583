package bpf

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"
)

// Update flags, as in the kernel's uapi (BPF_ANY, BPF_NOEXIST, BPF_EXIST,
// BPF_F_LOCK).
const (
	UpdateAny     uint64 = 0
	UpdateNoExist uint64 = 1
	UpdateExist   uint64 = 2
	UpdateLock    uint64 = 4
)

// Map creation flags (uapi BPF_F_*).
const (
	FlagNoPrealloc   uint32 = 1 << 0
	FlagNoCommonLRU  uint32 = 1 << 1
	FlagNumaNode     uint32 = 1 << 2
	FlagRdonly       uint32 = 1 << 3
	FlagWronly       uint32 = 1 << 4
	FlagStackBuildID uint32 = 1 << 5
	FlagZeroSeed     uint32 = 1 << 6
	FlagRdonlyProg   uint32 = 1 << 7
	FlagWronlyProg   uint32 = 1 << 8
	FlagClone        uint32 = 1 << 9
	FlagMmapable     uint32 = 1 << 10
	FlagPreserveElem uint32 = 1 << 11
	FlagInnerMap     uint32 = 1 << 12

	flagAccessMask = FlagRdonly | FlagWronly | FlagRdonlyProg | FlagWronlyProg
)

// MapError is the error of a map operation: which map, which operation and
// the errno the kernel would have returned.
type MapError struct {
	Map   string
	Op    string
	Errno syscall.Errno
	// Detail says why, when the errno alone is ambiguous.
	Detail string
}

func (e *MapError) Error() string {
	s := fmt.Sprintf("map %s: %s: %s", e.Map, e.Op, errnoString(e.Errno))
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *MapError) Unwrap() error { return e.Errno }

func errnoString(e syscall.Errno) string {
	if e == errno.ENOTSUPP {
		return "operation not supported (ENOTSUPP)"
	}
	return e.Error()
}

// Errno extracts the errno of err (0 when err is nil, EINVAL when err
// carries none).
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	return errno.EINVAL
}
