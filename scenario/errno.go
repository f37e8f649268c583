package scenario

import (
	"fmt"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"
)

// Errno is a Linux error number. Scenarios speak of the kernel's errnos by
// name; backends report them as syscall.Errno values carrying the Linux
// number (skmsg emulates Linux, whatever the host).
type Errno int

// ParseErrno returns the errno a name (EACCES) stands for.
func ParseErrno(name string) (Errno, bool) {
	e, ok := errno.Parse(name)
	return Errno(e), ok
}

func (e Errno) String() string {
	if e == 0 {
		return "success"
	}
	return errno.Name(syscall.Errno(e))
}

func errnoList() string { return fmt.Sprint(errno.Names()) }

// ErrnoOf extracts the errno an operation failed with; ok is false when err
// carries none (a backend failure rather than an answer of the system).
func ErrnoOf(err error) (Errno, bool) {
	e, ok := errno.Of(err)
	return Errno(e), ok
}
