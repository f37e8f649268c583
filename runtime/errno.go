package runtime

import "syscall"

// Errors returned to Go callers are syscall.Errno values (possibly
// wrapped) with Linux numbers on every host (internal/errno), compared
// with errors.Is. What BPF helpers return is the negative errno in r0.

// negErrno is a helper's return value for an errno: -errno in r0.
func negErrno(e syscall.Errno) uint64 { return uint64(-int64(e)) }
