package netstack

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The package's constants are Linux's numbers; on Linux they must agree
// with the syscall package callers may already use.
func TestConstantsMatchLinux(t *testing.T) {
	for _, c := range []struct {
		name      string
		ours, sys int
	}{
		{"SOL_SOCKET", SOL_SOCKET, syscall.SOL_SOCKET},
		{"SOL_TCP", SOL_TCP, syscall.SOL_TCP},
		{"SO_SNDBUF", SO_SNDBUF, syscall.SO_SNDBUF},
		{"SO_RCVBUF", SO_RCVBUF, syscall.SO_RCVBUF},
		{"SO_KEEPALIVE", SO_KEEPALIVE, syscall.SO_KEEPALIVE},
		{"SO_RCVLOWAT", SO_RCVLOWAT, syscall.SO_RCVLOWAT},
		{"TCP_NODELAY", TCP_NODELAY, syscall.TCP_NODELAY},
		{"TCP_CORK", TCP_CORK, syscall.TCP_CORK},
		{"MSG_PEEK", MSG_PEEK, syscall.MSG_PEEK},
		{"MSG_DONTWAIT", MSG_DONTWAIT, syscall.MSG_DONTWAIT},
		{"MSG_WAITALL", MSG_WAITALL, syscall.MSG_WAITALL},
		{"MSG_MORE", MSG_MORE, syscall.MSG_MORE},
		{"SHUT_RD", SHUT_RD, syscall.SHUT_RD},
		{"SHUT_WR", SHUT_WR, syscall.SHUT_WR},
		{"SHUT_RDWR", SHUT_RDWR, syscall.SHUT_RDWR},
	} {
		assert.Equal(t, c.sys, c.ours, c.name)
	}
}
