package errno

import "syscall"

// FromHost converts an errno returned by the host's system calls to its
// Linux number. On Linux the numbers are the same.
func FromHost(e syscall.Errno) syscall.Errno { return e }

// message is the kernel's strerror text, which on Linux is the host's.
func message(e syscall.Errno) string { return e.Error() }
