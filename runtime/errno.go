package runtime

import "fmt"

// Errno is a Linux errno value. Operations that fail the way the kernel
// fails return an Errno (or an error wrapping one), with Linux numbering
// on every host OS so results compare with the kernel's.
type Errno uint32

// Linux errno values used by the sockmap pipeline.
const (
	EPERM      Errno = 1
	ENOENT     Errno = 2
	EINTR      Errno = 4
	EIO        Errno = 5
	E2BIG      Errno = 7
	EBADF      Errno = 9
	EAGAIN     Errno = 11
	ENOMEM     Errno = 12
	EACCES     Errno = 13
	EFAULT     Errno = 14
	EBUSY      Errno = 16
	EEXIST     Errno = 17
	EINVAL     Errno = 22
	ENOSPC     Errno = 28
	EPIPE      Errno = 32
	ERANGE     Errno = 34
	ENODATA    Errno = 61
	ENOLINK    Errno = 67
	EPROTO     Errno = 71
	ESTRPIPE   Errno = 86
	ENOTSOCK   Errno = 88
	EMSGSIZE   Errno = 90
	EOPNOTSUPP Errno = 95
	ECONNRESET Errno = 104
	ENOTCONN   Errno = 107
	ETIMEDOUT  Errno = 110
	ENOTSUPP   Errno = 524
)

var errnoNames = map[Errno]string{
	EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", E2BIG: "E2BIG",
	EBADF: "EBADF", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES",
	EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", EINVAL: "EINVAL",
	ENOSPC: "ENOSPC", EPIPE: "EPIPE", ERANGE: "ERANGE", ENODATA: "ENODATA",
	ENOLINK: "ENOLINK", EPROTO: "EPROTO", ESTRPIPE: "ESTRPIPE",
	ENOTSOCK: "ENOTSOCK", EMSGSIZE: "EMSGSIZE", EOPNOTSUPP: "EOPNOTSUPP",
	ECONNRESET: "ECONNRESET", ENOTCONN: "ENOTCONN", ETIMEDOUT: "ETIMEDOUT",
	ENOTSUPP: "ENOTSUPP",
}

// Name is the errno's symbolic name, e.g. "EBUSY".
func (e Errno) Name() string {
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return fmt.Sprintf("errno %d", uint32(e))
}

func (e Errno) Error() string { return e.Name() }

// ErrnoByName returns the errno with the given symbolic name.
func ErrnoByName(name string) (Errno, bool) {
	for e, n := range errnoNames {
		if n == name {
			return e, true
		}
	}
	return 0, false
}

// Negative errno values as helpers return them in r0.
const (
	errEINVAL = int64(EINVAL)
	errENOMEM = int64(ENOMEM)
)
