package runtime

import "syscall"

// Errors returned to Go callers are syscall.Errno values (possibly
// wrapped), compared by name with errors.Is. What BPF helpers return is a
// negative Linux errno number in r0; those numbers are fixed here so they
// are the same on every host OS.
const (
	linuxEPERM      = 1
	linuxENOENT     = 2
	linuxEFAULT     = 14
	linuxEBUSY      = 16
	linuxEEXIST     = 17
	linuxEINVAL     = 22
	linuxENOMEM     = 12
	linuxENOSPC     = 28
	linuxEOPNOTSUPP = 95
	linuxE2BIG      = 7
)

// Negative errno values as helpers return them in r0.
const (
	errEINVAL = int64(linuxEINVAL)
	errENOMEM = int64(linuxENOMEM)
)

// ENOTSUPP is the kernel-internal errno 524 that some operations leak.
const ENOTSUPP = syscall.Errno(524)

// linuxErrno maps a syscall.Errno to its Linux number (helpers return
// these to programs).
func linuxErrno(e syscall.Errno) int64 {
	switch e {
	case syscall.EPERM:
		return 1
	case syscall.ENOENT:
		return 2
	case syscall.E2BIG:
		return 7
	case syscall.EBADF:
		return 9
	case syscall.EAGAIN:
		return 11
	case syscall.ENOMEM:
		return 12
	case syscall.EACCES:
		return 13
	case syscall.EFAULT:
		return 14
	case syscall.EBUSY:
		return 16
	case syscall.EEXIST:
		return 17
	case syscall.EINVAL:
		return 22
	case syscall.ENOSPC:
		return 28
	case syscall.EPIPE:
		return 32
	case syscall.EOPNOTSUPP:
		return 95
	case ENOTSUPP:
		return 524
	}
	return int64(e)
}
