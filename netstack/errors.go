package netstack

import (
	"errors"
	"io"
	"net"
	"os"

	"github.com/skmsg/skmsg/internal/errno"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// OpError is the error every socket call returns: the operation, the
// socket's addresses, and the errno that a Linux socket would have returned.
// errors.Is(err, syscall.EAGAIN) and friends work through it on Linux; the
// errno carries the Linux number on every GOOS.
type OpError struct {
	Op     string
	Local  net.Addr
	Remote net.Addr
	Err    error // a syscall.Errno, or another error for bad input
}

func (e *OpError) Error() string {
	s := "netstack: " + e.Op
	if e.Local != nil {
		s += " " + e.Local.String()
	}
	if e.Remote != nil {
		s += "->" + e.Remote.String()
	}
	return s + ": " + e.Err.Error()
}

func (e *OpError) Unwrap() error { return e.Err }

// Timeout reports whether the error is a deadline expiry (net.Error).
func (e *OpError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Temporary is part of net.Error.
func (e *OpError) Temporary() bool { return e.Timeout() }

// errDeadline is returned when a deadline set with SetDeadline expires. It
// is ETIMEDOUT for errors.Is and os.ErrDeadlineExceeded-like for net users.
type deadlineError struct{}

func (deadlineError) Error() string   { return "i/o timeout" }
func (deadlineError) Timeout() bool   { return true }
func (deadlineError) Temporary() bool { return true }
func (deadlineError) Is(target error) bool {
	return target == errno.ETIMEDOUT || target == errno.EAGAIN || target == os.ErrDeadlineExceeded
}

var errDeadline error = deadlineError{}

// errnoOf maps a gVisor error to the errno Linux returns for the same
// condition. ErrClosedForReceive is end of stream and maps to io.EOF.
func errnoOf(err tcpip.Error) error {
	switch err.(type) {
	case nil:
		return nil
	case *tcpip.ErrClosedForReceive:
		return io.EOF
	case *tcpip.ErrWouldBlock:
		return errno.EAGAIN
	case *tcpip.ErrConnectionReset:
		return errno.ECONNRESET
	case *tcpip.ErrConnectionRefused:
		return errno.ECONNREFUSED
	case *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
		return errno.ECONNABORTED
	case *tcpip.ErrClosedForSend:
		return errno.EPIPE
	case *tcpip.ErrNotConnected:
		return errno.ENOTCONN
	case *tcpip.ErrTimeout:
		return errno.ETIMEDOUT
	case *tcpip.ErrPortInUse, *tcpip.ErrDuplicateAddress:
		return errno.EADDRINUSE
	case *tcpip.ErrBadLocalAddress:
		return errno.EADDRNOTAVAIL
	case *tcpip.ErrAlreadyConnected:
		return errno.EISCONN
	case *tcpip.ErrAlreadyConnecting:
		return errno.EALREADY
	case *tcpip.ErrConnectStarted:
		return errno.EINPROGRESS
	case *tcpip.ErrHostUnreachable:
		return errno.EHOSTUNREACH
	case *tcpip.ErrNetworkUnreachable:
		return errno.ENETUNREACH
	case *tcpip.ErrMessageTooLong:
		return errno.EMSGSIZE
	case *tcpip.ErrNoBufferSpace:
		return errno.ENOBUFS
	case *tcpip.ErrNotSupported, *tcpip.ErrUnknownProtocolOption:
		return errno.ENOPROTOOPT
	case *tcpip.ErrQueueSizeNotSupported:
		return errno.ENOTTY
	case *tcpip.ErrHostDown:
		return errno.EHOSTDOWN
	default:
		return errno.EINVAL
	}
}
