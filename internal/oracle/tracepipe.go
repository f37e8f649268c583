//go:build linux

package oracle

import (
	"bytes"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// tracePipe reads bpf_printk output. trace_pipe is machine-wide and reading
// it consumes what others might wait for, so it is only opened on request
// (Kernel.TracePipe).
type tracePipe struct {
	fd      int
	partial []byte
}

func openTracePipe() *tracePipe {
	for _, p := range []string{"/sys/kernel/tracing/trace_pipe", "/sys/kernel/debug/tracing/trace_pipe"} {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			return &tracePipe{fd: fd}
		}
		if !os.IsNotExist(err) {
			break
		}
	}
	return nil
}

// drain returns the complete lines available now.
func (t *tracePipe) drain() []string {
	buf := make([]byte, 16<<10)
	for {
		n, err := unix.Read(t.fd, buf)
		if n <= 0 || err != nil {
			break
		}
		t.partial = append(t.partial, buf[:n]...)
	}
	var out []string
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		out = append(out, strings.TrimSpace(string(t.partial[:i])))
		t.partial = t.partial[i+1:]
	}
	return out
}

func (t *tracePipe) close() { unix.Close(t.fd) }
