//go:build !linux

package errno

import "syscall"

// hostToLinux maps the host's numbers of the errnos skmsg meets from host
// calls to Linux numbers; the syscall package names them on every GOOS
// that skmsg builds for.
var hostToLinux = map[syscall.Errno]syscall.Errno{
	syscall.EPERM: EPERM, syscall.ENOENT: ENOENT, syscall.EINTR: EINTR,
	syscall.EIO: EIO, syscall.E2BIG: E2BIG, syscall.EBADF: EBADF,
	syscall.EAGAIN: EAGAIN, syscall.ENOMEM: ENOMEM, syscall.EACCES: EACCES,
	syscall.EFAULT: EFAULT, syscall.EBUSY: EBUSY, syscall.EEXIST: EEXIST,
	syscall.ENODEV: ENODEV, syscall.EINVAL: EINVAL, syscall.ENFILE: ENFILE,
	syscall.EMFILE: EMFILE, syscall.ENOTTY: ENOTTY, syscall.ENOSPC: ENOSPC,
	syscall.EPIPE: EPIPE, syscall.ERANGE: ERANGE, syscall.ENOTSOCK: ENOTSOCK,
	syscall.EMSGSIZE: EMSGSIZE, syscall.EPROTOTYPE: EPROTOTYPE,
	syscall.ENOPROTOOPT: ENOPROTOOPT, syscall.EOPNOTSUPP: EOPNOTSUPP,
	syscall.EAFNOSUPPORT: EAFNOSUPPORT, syscall.EADDRINUSE: EADDRINUSE,
	syscall.EADDRNOTAVAIL: EADDRNOTAVAIL, syscall.ENETDOWN: ENETDOWN,
	syscall.ENETUNREACH: ENETUNREACH, syscall.ECONNABORTED: ECONNABORTED,
	syscall.ECONNRESET: ECONNRESET, syscall.ENOBUFS: ENOBUFS,
	syscall.EISCONN: EISCONN, syscall.ENOTCONN: ENOTCONN,
	syscall.ETIMEDOUT: ETIMEDOUT, syscall.ECONNREFUSED: ECONNREFUSED,
	syscall.EHOSTDOWN: EHOSTDOWN, syscall.EHOSTUNREACH: EHOSTUNREACH,
	syscall.EALREADY: EALREADY, syscall.EINPROGRESS: EINPROGRESS,
}

// FromHost converts an errno returned by the host's system calls to its
// Linux number; a number with no Linux counterpart known here is returned
// unchanged.
func FromHost(e syscall.Errno) syscall.Errno {
	if l, ok := hostToLinux[e]; ok {
		return l
	}
	return e
}

// message names the errno: the host's message table is indexed by the
// host's numbers, not Linux's.
func message(e syscall.Errno) string { return Name(e) }
