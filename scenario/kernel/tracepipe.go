//go:build linux

package kernel

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// tracePipe reads bpf_printk output. trace_pipe is machine-wide and reading
// it consumes what others might wait for, so it is only opened on request
// (Kernel.TracePipe).
//
// The lines of one scenario are told from everyone else's without help
// from the kernel (a printk line carries no program id): a line is kept
// when it matches a format string of the scenario's objects and was
// printed by a thread of this process or by a kernel thread (softirq,
// the sockmap backlog worker). Each drain writes a marker into the trace
// buffer and reads up to it, so that it knows it saw everything printed
// before, and that no other reader took lines meanwhile ("busy").
type tracePipe struct {
	fd      int
	dir     string // the tracefs directory of trace_pipe and trace_marker
	partial []byte
	mounted string // a tracefs mounted for this reader, or ""
	formats []*regexp.Regexp
}

var markerSeq atomic.Uint64

// markerWait bounds how long a drain waits for its own marker to come
// through trace_pipe.
const markerWait = 500 * time.Millisecond

func openTracePipe() *tracePipe {
	for _, d := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		if fd, err := unix.Open(d+"/trace_pipe", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			return &tracePipe{fd: fd, dir: d}
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
	return &tracePipe{fd: fd, dir: dir, mounted: dir}
}

// addFormats learns the format strings an object's programs may print:
// bpf_printk keeps them in read-only data.
func (t *tracePipe) addFormats(spec *ebpf.CollectionSpec) {
	for name, m := range spec.Maps {
		if !strings.HasPrefix(name, ".rodata") {
			continue
		}
		for _, kv := range m.Contents {
			b, ok := kv.Value.([]byte)
			if !ok {
				continue
			}
			for _, s := range bytes.Split(b, []byte{0}) {
				if re := formatRegexp(string(s)); re != nil {
					t.formats = append(t.formats, re)
				}
			}
		}
	}
}

// conversion is a printf conversion as bpf_trace_printk accepts them.
var conversion = regexp.MustCompile(`%[-+ #0]*[0-9]*(\.[0-9]+)?(hh|h|ll|l|z)?[diouxXcsp]|%%|%p[a-zA-Z]+`)

// formatRegexp turns a printf format into a regexp of the lines it
// prints; nil for strings that are no format (empty, unprintable).
func formatRegexp(f string) *regexp.Regexp {
	f = strings.TrimSuffix(f, "\n")
	if f == "" {
		return nil
	}
	for _, r := range f {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return nil
		}
	}
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, loc := range conversion.FindAllStringIndex(f, -1) {
		b.WriteString(regexp.QuoteMeta(f[last:loc[0]]))
		if f[loc[0]:loc[1]] == "%%" {
			b.WriteString("%")
		} else {
			b.WriteString(".*?")
		}
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(f[last:]))
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil
	}
	return re
}

// traceLine is one parsed trace_pipe line.
type traceLine struct {
	comm string
	pid  int
	kind string // the event: "bpf_trace_printk", "tracing_mark_write", ...
	msg  string
}

// parseTraceLine splits "comm-pid [cpu] flags timestamp: event: message".
func parseTraceLine(line string) (traceLine, bool) {
	head, rest, ok := strings.Cut(line, " [")
	if !ok {
		return traceLine{}, false
	}
	head = strings.TrimSpace(head)
	i := strings.LastIndexByte(head, '-')
	if i < 0 {
		return traceLine{}, false
	}
	pid, err := strconv.Atoi(head[i+1:])
	if err != nil {
		return traceLine{}, false
	}
	// After "cpu] flags timestamp: " comes "event: message".
	_, ev, ok := strings.Cut(rest, ": ")
	if !ok {
		return traceLine{}, false
	}
	kind, msg, ok := strings.Cut(ev, ": ")
	if !ok {
		return traceLine{}, false
	}
	return traceLine{comm: head[:i], pid: pid, kind: kind, msg: msg}, true
}

// kernelThread says whether a line was printed in a kernel thread's
// context (softirq on an idle CPU, a worker), where this scenario's
// receive-side programs run too.
func kernelThread(l traceLine) bool {
	if l.pid == 0 {
		return true
	}
	for _, p := range []string{"kworker/", "ksoftirqd/", "swapper/", "<idle>"} {
		if strings.HasPrefix(l.comm, p) {
			return true
		}
	}
	return false
}

// ownThreads are the thread ids of this process.
func ownThreads() map[int]bool {
	out := map[int]bool{}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return out
	}
	for _, e := range ents {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			out[id] = true
		}
	}
	return out
}

// drain returns what this scenario's programs printed, one message per
// line, up to now, and notes that say when lines of other programs were
// left out and when another reader took lines.
func (t *tracePipe) drain() (out, notes []string) {
	marker, err := t.mark()
	foreign := 0
	seen := false
	own := ownThreads()
	deadline := time.Now().Add(markerWait)
	for !seen {
		t.read()
		for {
			i := bytes.IndexByte(t.partial, '\n')
			if i < 0 {
				break
			}
			line := string(t.partial[:i])
			t.partial = t.partial[i+1:]
			l, ok := parseTraceLine(line)
			switch {
			case !ok:
			case l.kind == "tracing_mark_write" && l.msg == marker:
				seen = true
			case l.kind != "bpf_trace_printk":
				// Other trace events are not program output.
			case t.ours(l, own):
				out = append(out, l.msg)
			default:
				foreign++
			}
		}
		if seen || err != nil || !t.wait(deadline) {
			break
		}
	}
	if foreign > 0 {
		notes = append(notes, fmt.Sprintf("%d bpf_printk line(s) not printed by this scenario's programs left out", foreign))
	}
	switch {
	case err != nil:
		notes = append(notes, fmt.Sprintf("cannot mark the trace buffer (%v): lines printed late may show under the next step", err))
	case !seen:
		notes = append(notes, fmt.Sprintf("trace_pipe busy: the marker written to the trace buffer did not come through within %v; another reader is consuming trace_pipe, lines may be missing", markerWait))
	}
	return out, notes
}

// ours tells this scenario's lines: a format of its objects, printed by
// this process or a kernel thread.
func (t *tracePipe) ours(l traceLine, own map[int]bool) bool {
	if !own[l.pid] && !kernelThread(l) {
		return false
	}
	for _, re := range t.formats {
		if re.MatchString(l.msg) {
			return true
		}
	}
	return false
}

// mark writes a unique marker into the trace buffer.
func (t *tracePipe) mark() (string, error) {
	m := fmt.Sprintf("skmsg-marker-%d-%d", os.Getpid(), markerSeq.Add(1))
	fd, err := unix.Open(filepath.Join(t.dir, "trace_marker"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return m, err
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(m)); err != nil {
		return m, err
	}
	return m, nil
}

// read appends what trace_pipe has now.
func (t *tracePipe) read() {
	buf := make([]byte, 16<<10)
	for {
		n, err := unix.Read(t.fd, buf)
		if n <= 0 || err != nil {
			return
		}
		t.partial = append(t.partial, buf[:n]...)
	}
}

// wait waits for trace_pipe to become readable until deadline; false
// when the deadline passed.
func (t *tracePipe) wait(deadline time.Time) bool {
	left := time.Until(deadline)
	if left <= 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(left.Milliseconds())+1)
	return err == nil && n > 0 || err == unix.EINTR
}

func (t *tracePipe) close() {
	unix.Close(t.fd)
	if t.mounted != "" {
		_ = unix.Unmount(t.mounted, unix.MNT_DETACH)
		os.Remove(t.mounted)
	}
}
