package scenario

import (
	"errors"
	"fmt"
	"sort"
	"syscall"
)

// Errno is a Linux error number. Scenarios speak of the kernel's errnos by
// name; backends report them as syscall.Errno values carrying the Linux
// number (skmsg emulates Linux, whatever the host).
type Errno int

var errnoNames = map[string]Errno{
	"EPERM": 1, "ENOENT": 2, "ESRCH": 3, "EINTR": 4, "EIO": 5, "ENXIO": 6, "E2BIG": 7,
	"EBADF": 9, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13, "EFAULT": 14, "EBUSY": 16,
	"EEXIST": 17, "ENODEV": 19, "EINVAL": 22, "ENFILE": 23, "EMFILE": 24, "ENOSPC": 28,
	"EPIPE": 32, "ERANGE": 34, "ENODATA": 61, "ENOLINK": 67, "EPROTO": 71,
	"ESTRPIPE": 86, "ENOTSOCK": 88, "EMSGSIZE": 90, "EPROTOTYPE": 91,
	"ENOPROTOOPT": 92, "EOPNOTSUPP": 95, "EAFNOSUPPORT": 97, "EADDRINUSE": 98,
	"EADDRNOTAVAIL": 99, "ENETUNREACH": 101, "ECONNABORTED": 103,
	"ECONNRESET": 104, "ENOBUFS": 105, "EISCONN": 106, "ENOTCONN": 107,
	"ESHUTDOWN": 108, "ETIMEDOUT": 110, "ECONNREFUSED": 111, "EHOSTUNREACH": 113,
	"EALREADY": 114, "EINPROGRESS": 115, "ENOTSUPP": 524,
}

// ParseErrno returns the errno a name (EACCES) stands for.
func ParseErrno(name string) (Errno, bool) {
	e, ok := errnoNames[name]
	return e, ok
}

func (e Errno) String() string {
	if e == 0 {
		return "success"
	}
	best := ""
	for n, v := range errnoNames {
		// EWOULDBLOCK and friends are not in the table; take the only name.
		if v == e && (best == "" || n < best) {
			best = n
		}
	}
	if best == "" {
		return fmt.Sprintf("errno %d", int(e))
	}
	return best
}

func errnoList() string {
	names := make([]string, 0, len(errnoNames))
	for n := range errnoNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

// ErrnoOf extracts the errno an operation failed with; ok is false when err
// carries none (a backend failure rather than an answer of the system).
func ErrnoOf(err error) (Errno, bool) {
	if err == nil {
		return 0, true
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return Errno(e), true
	}
	return 0, false
}
