// Package errno is skmsg's one errno vocabulary: the Linux error numbers,
// the same on every GOOS, as syscall.Errno values.
//
// skmsg emulates Linux whatever the host, so every error it returns for a
// condition the kernel reports with an errno carries the Linux number:
// ECONNRESET is 104 on darwin too, and a scenario written against the
// kernel compares equal there. On Linux these constants are identical to
// syscall's, so errors.Is(err, syscall.EAGAIN) keeps working for users; on
// other systems compare with these values (or by Name), because the host's
// syscall constants carry the host's numbers.
//
// A syscall.Errno formats itself with the host's message table; Name gives
// the Linux name of a number on every host.
package errno

import (
	"errors"
	"fmt"
	"sort"
	"syscall"
)

// The Linux errno numbers skmsg returns or compares (include/uapi/asm-generic
// errno-base.h and errno.h, and include/linux/errno.h for ENOTSUPP).
const (
	EPERM         syscall.Errno = 1
	ENOENT        syscall.Errno = 2
	ESRCH         syscall.Errno = 3
	EINTR         syscall.Errno = 4
	EIO           syscall.Errno = 5
	ENXIO         syscall.Errno = 6
	E2BIG         syscall.Errno = 7
	EBADF         syscall.Errno = 9
	EAGAIN        syscall.Errno = 11
	ENOMEM        syscall.Errno = 12
	EACCES        syscall.Errno = 13
	EFAULT        syscall.Errno = 14
	EBUSY         syscall.Errno = 16
	EEXIST        syscall.Errno = 17
	ENODEV        syscall.Errno = 19
	EINVAL        syscall.Errno = 22
	ENFILE        syscall.Errno = 23
	EMFILE        syscall.Errno = 24
	ENOTTY        syscall.Errno = 25
	ENOSPC        syscall.Errno = 28
	EPIPE         syscall.Errno = 32
	ERANGE        syscall.Errno = 34
	ENODATA       syscall.Errno = 61
	ENOLINK       syscall.Errno = 67
	EPROTO        syscall.Errno = 71
	ESTRPIPE      syscall.Errno = 86
	ENOTSOCK      syscall.Errno = 88
	EMSGSIZE      syscall.Errno = 90
	EPROTOTYPE    syscall.Errno = 91
	ENOPROTOOPT   syscall.Errno = 92
	EOPNOTSUPP    syscall.Errno = 95
	EAFNOSUPPORT  syscall.Errno = 97
	EADDRINUSE    syscall.Errno = 98
	EADDRNOTAVAIL syscall.Errno = 99
	ENETDOWN      syscall.Errno = 100
	ENETUNREACH   syscall.Errno = 101
	ECONNABORTED  syscall.Errno = 103
	ECONNRESET    syscall.Errno = 104
	ENOBUFS       syscall.Errno = 105
	EISCONN       syscall.Errno = 106
	ENOTCONN      syscall.Errno = 107
	ESHUTDOWN     syscall.Errno = 108
	ETIMEDOUT     syscall.Errno = 110
	ECONNREFUSED  syscall.Errno = 111
	EHOSTDOWN     syscall.Errno = 112
	EHOSTUNREACH  syscall.Errno = 113
	EALREADY      syscall.Errno = 114
	EINPROGRESS   syscall.Errno = 115
	// ENOTSUPP is kernel-internal (include/linux/errno.h), yet some bpf(2)
	// commands and helpers leak it to user space; it is not EOPNOTSUPP.
	ENOTSUPP syscall.Errno = 524
)

// ErrNotSupported is wrapped by every error about something a program,
// object or scenario needs that skmsg does not implement (yet), as opposed
// to something the kernel itself would refuse. It is the one such value in
// the module; public packages re-export it (loader.ErrNotSupported).
var ErrNotSupported = errors.New("not supported by skmsg")

var names = map[syscall.Errno]string{
	EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO",
	ENXIO: "ENXIO", E2BIG: "E2BIG", EBADF: "EBADF", EAGAIN: "EAGAIN",
	ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY",
	EEXIST: "EEXIST", ENODEV: "ENODEV", EINVAL: "EINVAL", ENFILE: "ENFILE",
	EMFILE: "EMFILE", ENOTTY: "ENOTTY", ENOSPC: "ENOSPC", EPIPE: "EPIPE",
	ERANGE: "ERANGE", ENODATA: "ENODATA", ENOLINK: "ENOLINK", EPROTO: "EPROTO",
	ESTRPIPE: "ESTRPIPE", ENOTSOCK: "ENOTSOCK", EMSGSIZE: "EMSGSIZE",
	EPROTOTYPE: "EPROTOTYPE", ENOPROTOOPT: "ENOPROTOOPT", EOPNOTSUPP: "EOPNOTSUPP",
	EAFNOSUPPORT: "EAFNOSUPPORT", EADDRINUSE: "EADDRINUSE",
	EADDRNOTAVAIL: "EADDRNOTAVAIL", ENETDOWN: "ENETDOWN", ENETUNREACH: "ENETUNREACH",
	ECONNABORTED: "ECONNABORTED", ECONNRESET: "ECONNRESET", ENOBUFS: "ENOBUFS",
	EISCONN: "EISCONN", ENOTCONN: "ENOTCONN", ESHUTDOWN: "ESHUTDOWN",
	ETIMEDOUT: "ETIMEDOUT", ECONNREFUSED: "ECONNREFUSED", EHOSTDOWN: "EHOSTDOWN",
	EHOSTUNREACH: "EHOSTUNREACH", EALREADY: "EALREADY", EINPROGRESS: "EINPROGRESS",
	ENOTSUPP: "ENOTSUPP",
}

var byName = func() map[string]syscall.Errno {
	m := make(map[string]syscall.Errno, len(names))
	for e, n := range names {
		m[n] = e
	}
	return m
}()

// Name is the Linux name of an errno number ("EACCES"), or "errno N" for a
// number outside the table.
func Name(e syscall.Errno) string {
	if n, ok := names[e]; ok {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

// Parse returns the errno a Linux name (EACCES) stands for.
func Parse(name string) (syscall.Errno, bool) {
	e, ok := byName[name]
	return e, ok
}

// Names lists every name Parse knows, sorted.
func Names() []string {
	out := make([]string, 0, len(byName))
	for n := range byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Of extracts the errno an error carries; ok is false when err carries none
// (nil gives 0, true). Errors made by skmsg carry Linux numbers; an error
// straight from the host's system calls carries the host's (see FromHost).
func Of(err error) (e syscall.Errno, ok bool) {
	if err == nil {
		return 0, true
	}
	if errors.As(err, &e) {
		return e, true
	}
	return 0, false
}

// String says what an errno means in Linux terms: its name and, when the
// name alone is terse, the kernel's wording ("operation not supported
// (ENOTSUPP)").
func String(e syscall.Errno) string {
	if e == ENOTSUPP {
		return "operation not supported (ENOTSUPP)"
	}
	return message(e)
}
