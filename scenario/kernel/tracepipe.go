//go:build linux

package kernel

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
	mounted string // a tracefs mounted for this reader, or ""
}

func openTracePipe() *tracePipe {
	for _, p := range []string{"/sys/kernel/tracing/trace_pipe", "/sys/kernel/debug/tracing/trace_pipe"} {
		if fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			return &tracePipe{fd: fd}
		}
	}
	// No tracefs where it usually is: mount one privately for the
	// session (every mount shows the same global buffer).
	dir, err := os.MkdirTemp("", "skmsg-tracefs-")
	if err != nil {
		return nil
	}
	if err := unix.Mount("nodev", dir, "tracefs", 0, ""); err != nil {
		os.Remove(dir)
		return nil
	}
	fd, err := unix.Open(dir+"/trace_pipe", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
		return nil
	}
	return &tracePipe{fd: fd, mounted: dir}
}

// drain returns what programs printed, one message per line, as far as it
// has arrived. trace_pipe is machine-wide: other programs' messages appear
// too.
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
		line := string(t.partial[:i])
		t.partial = t.partial[i+1:]
		// "comm-pid [cpu] flags time: bpf_trace_printk: MESSAGE": the
		// message is what the program printed; other trace events are
		// not ours.
		if _, msg, ok := strings.Cut(line, "bpf_trace_printk: "); ok {
			out = append(out, msg)
		}
	}
	return out
}

func (t *tracePipe) close() {
	unix.Close(t.fd)
	if t.mounted != "" {
		_ = unix.Unmount(t.mounted, unix.MNT_DETACH)
		os.Remove(t.mounted)
	}
}
