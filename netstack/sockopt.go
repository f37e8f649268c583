package netstack

import (
	"github.com/skmsg/skmsg/internal/errno"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Socket option levels and names, message flags and shutdown directions,
// numbered as on Linux on every GOOS: Linux numbering is this package's API
// (the syscall package lacks some of these off Linux and numbers others
// differently, e.g. SOL_SOCKET and MSG_DONTWAIT on darwin).
const (
	SOL_SOCKET   = 0x1
	SOL_TCP      = 0x6
	SO_SNDBUF    = 0x7
	SO_RCVBUF    = 0x8
	SO_KEEPALIVE = 0x9
	SO_RCVLOWAT  = 0x12
	TCP_NODELAY  = 0x1
	TCP_CORK     = 0x3

	MSG_PEEK     = 0x2
	MSG_DONTWAIT = 0x40
	MSG_WAITALL  = 0x100
	MSG_MORE     = 0x8000

	SHUT_RD   = 0x0
	SHUT_WR   = 0x1
	SHUT_RDWR = 0x2
)

// SetSockoptInt is setsockopt(2) for integer options: SOL_SOCKET
// SO_RCVBUF, SO_SNDBUF (doubled, as Linux does), SO_RCVLOWAT,
// SO_KEEPALIVE; SOL_TCP TCP_NODELAY, TCP_CORK. Others fail with
// ENOPROTOOPT.
func (c *Conn) SetSockoptInt(level, name, v int) error {
	if level == SOL_SOCKET && name == SO_RCVLOWAT {
		// gVisor accepts SO_RCVLOWAT but ignores it; reads apply it here.
		if v < 0 {
			return c.opErr("setsockopt", errno.EINVAL)
		}
		if v == 0 {
			v = 1
		}
		c.rcvlowat.Store(int32(v))
		c.appq.Notify(waiter.ReadableEvents)
		return nil
	}
	return c.opErr("setsockopt", setSockopt(c.ep, level, name, v))
}

// GetSockoptInt is getsockopt(2) for the options SetSockoptInt knows.
func (c *Conn) GetSockoptInt(level, name int) (int, error) {
	if level == SOL_SOCKET && name == SO_RCVLOWAT {
		return int(c.rcvlowat.Load()), nil
	}
	v, err := getSockopt(c.ep, level, name)
	return v, c.opErr("getsockopt", err)
}

// SetSockoptInt on a listener; accepted connections inherit the options.
func (l *Listener) SetSockoptInt(level, name, v int) error {
	if err := setSockopt(l.ep, level, name, v); err != nil {
		return &OpError{Op: "setsockopt", Local: l.Addr(), Err: err}
	}
	return nil
}

func setSockopt(ep tcpip.Endpoint, level, name, v int) error {
	so := ep.SocketOptions()
	switch {
	case level == SOL_SOCKET && name == SO_RCVBUF:
		if v < 0 {
			return errno.EINVAL
		}
		so.SetReceiveBufferSize(int64(v)*2, true)
	case level == SOL_SOCKET && name == SO_SNDBUF:
		if v < 0 {
			return errno.EINVAL
		}
		so.SetSendBufferSize(int64(v)*2, true)
	case level == SOL_SOCKET && name == SO_RCVLOWAT:
		if v < 0 {
			return errno.EINVAL
		}
		if v == 0 {
			v = 1
		}
		if err := so.SetRcvlowat(int32(v)); err != nil {
			return errnoOf(err)
		}
	case level == SOL_SOCKET && name == SO_KEEPALIVE:
		so.SetKeepAlive(v != 0)
	case level == SOL_TCP && name == TCP_NODELAY:
		so.SetDelayOption(v == 0)
	case level == SOL_TCP && name == TCP_CORK:
		so.SetCorkOption(v != 0)
	default:
		return errno.ENOPROTOOPT
	}
	return nil
}

func getSockopt(ep tcpip.Endpoint, level, name int) (int, error) {
	so := ep.SocketOptions()
	b := func(x bool) int {
		if x {
			return 1
		}
		return 0
	}
	switch {
	case level == SOL_SOCKET && name == SO_RCVBUF:
		return int(so.GetReceiveBufferSize()), nil
	case level == SOL_SOCKET && name == SO_SNDBUF:
		return int(so.GetSendBufferSize()), nil
	case level == SOL_SOCKET && name == SO_RCVLOWAT:
		return int(so.GetRcvlowat()), nil
	case level == SOL_SOCKET && name == SO_KEEPALIVE:
		return b(so.GetKeepAlive()), nil
	case level == SOL_TCP && name == TCP_NODELAY:
		return b(!so.GetDelayOption()), nil
	case level == SOL_TCP && name == TCP_CORK:
		return b(so.GetCorkOption()), nil
	}
	return 0, errno.ENOPROTOOPT
}
