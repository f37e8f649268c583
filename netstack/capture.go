package netstack

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// CaptureOptions configure a capture.
type CaptureOptions struct {
	// LinkType is layers.LinkTypeEthernet (the default: frames get an
	// Ethernet header with one made-up MAC per host, so filters written
	// for tcpdump on an Ethernet interface work) or layers.LinkTypeRaw
	// (bare IP packets).
	LinkType layers.LinkType
	// Filter is a classic BPF program in tcpdump's -dd form (one
	// "{ 0x28, 0, 0, 0x0000000c }," per line) or -ddd form (a count, then
	// "40 0 0 12" lines), compiled for LinkType. Empty captures everything.
	Filter string
	// Snaplen bounds the bytes kept per frame; 0 means 262144.
	Snaplen uint32
	// SequentialTimestamps stamps frame i at 2000-01-01 00:00:00 + i µs
	// instead of the network's clock. Without it a frame's timestamp is
	// the time of the network's clock (Options.Clock), at least 1µs after
	// the previous frame's so that tools see the link's order: with the
	// default VirtualClock the same traffic gives the same file, and the
	// gaps show where TCP's timers fired (a retransmission after its RTO).
	SequentialTimestamps bool
}

// Capture writes every frame crossing the link (as put on the link by its
// sender, before faults) to a pcap stream.
type Capture struct {
	net     *Network
	opts    CaptureOptions
	vm      *bpf.VM
	mu      sync.Mutex
	w       *pcapgo.Writer
	closer  io.Closer
	flush   *bufio.Writer
	seen    uint64
	written uint64
	err     error
	closed  bool
	scratch []byte
	lastTS  time.Time
}

// Capture starts writing frames to w in pcap format. Stop it with Close.
func (n *Network) Capture(w io.Writer, opts CaptureOptions) (*Capture, error) {
	return n.startCapture(w, nil, opts)
}

// CaptureFile is Capture into a new file at path; Close closes the file.
func (n *Network) CaptureFile(path string, opts CaptureOptions) (*Capture, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("netstack: capture file: %w", err)
	}
	c, err := n.startCapture(f, f, opts)
	if err != nil {
		f.Close()
		os.Remove(path)
	}
	return c, err
}

func (n *Network) startCapture(w io.Writer, closer io.Closer, opts CaptureOptions) (*Capture, error) {
	if opts.LinkType == 0 {
		opts.LinkType = layers.LinkTypeEthernet
	}
	if opts.LinkType != layers.LinkTypeEthernet && opts.LinkType != layers.LinkTypeRaw {
		return nil, fmt.Errorf("netstack: capture link type %v not supported (use Ethernet or Raw)", opts.LinkType)
	}
	if opts.Snaplen == 0 {
		opts.Snaplen = 262144
	}
	c := &Capture{net: n, opts: opts, closer: closer}
	if opts.Filter != "" {
		raw, err := ParseFilter(opts.Filter)
		if err != nil {
			return nil, err
		}
		insts := make([]bpf.Instruction, len(raw))
		for i, r := range raw {
			insts[i] = r.Disassemble()
		}
		vm, err := bpf.NewVM(insts)
		if err != nil {
			return nil, fmt.Errorf("netstack: capture filter: %w", err)
		}
		c.vm = vm
	}
	c.flush = bufio.NewWriterSize(w, 64<<10)
	c.w = pcapgo.NewWriter(c.flush)
	if err := c.w.WriteFileHeader(opts.Snaplen, opts.LinkType); err != nil {
		return nil, fmt.Errorf("netstack: capture header: %w", err)
	}
	l := &n.link
	l.capMu.Lock()
	defer l.capMu.Unlock()
	var list []*Capture
	if old := l.captures.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, c)
	l.captures.Store(&list)
	return c, nil
}

// Frames returns how many frames passed the filter and were written.
func (c *Capture) Frames() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written
}

// Seen returns how many frames the capture looked at (before filtering).
func (c *Capture) Seen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen
}

// Flush writes buffered frames out.
func (c *Capture) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = c.flush.Flush()
	}
	return c.err
}

// Close stops the capture, flushes it and closes the file of CaptureFile.
// It returns the first write error, if any.
func (c *Capture) Close() error {
	l := &c.net.link
	l.capMu.Lock()
	if old := l.captures.Load(); old != nil {
		var list []*Capture
		for _, x := range *old {
			if x != c {
				list = append(list, x)
			}
		}
		l.captures.Store(&list)
	}
	l.capMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.err
	}
	c.closed = true
	if err := c.flush.Flush(); err != nil && c.err == nil {
		c.err = err
	}
	if c.closer != nil {
		if err := c.closer.Close(); err != nil && c.err == nil {
			c.err = err
		}
	}
	return c.err
}

// capture writes a frame to every capture; at is the frame's time on the
// network's VirtualClock (zero with another clock, which is read instead).
func (l *link) capture(caps []*Capture, src, dst *Host, proto tcpip.NetworkProtocolNumber, buf *buffer.Buffer, at time.Time) {
	ipLen := int(buf.Size())
	for _, c := range caps {
		c.write(src, dst, proto, buf, ipLen, at)
	}
}

func (c *Capture) write(src, dst *Host, proto tcpip.NetworkProtocolNumber, buf *buffer.Buffer, ipLen int, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.err != nil {
		return
	}
	c.seen++
	hdr := 0
	if c.opts.LinkType == layers.LinkTypeEthernet {
		hdr = 14
	}
	need := hdr + ipLen
	if cap(c.scratch) < need {
		c.scratch = make([]byte, need)
	}
	data := c.scratch[:need]
	if hdr > 0 {
		if dst != nil {
			copy(data[0:6], dst.mac[:])
		} else {
			copy(data[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		}
		copy(data[6:12], src.mac[:])
		if proto == ipv4.ProtocolNumber {
			data[12], data[13] = 0x08, 0x00
		} else {
			data[12], data[13] = 0x86, 0xdd
		}
	}
	buf.ReadAt(data[hdr:], 0)
	keep := len(data)
	if c.vm != nil {
		k, err := c.vm.Run(data)
		if err != nil || k == 0 {
			return
		}
		if k < keep {
			keep = k
		}
	}
	if keep > int(c.opts.Snaplen) {
		keep = int(c.opts.Snaplen)
	}
	var ts time.Time
	if c.opts.SequentialTimestamps {
		ts = virtualEpoch.Add(time.Duration(c.written) * time.Microsecond)
	} else {
		ts = at
		if ts.IsZero() {
			ts = c.net.opts.Clock.Now()
		}
		if c.written > 0 && ts.Before(c.lastTS.Add(time.Microsecond)) {
			ts = c.lastTS.Add(time.Microsecond)
		}
		c.lastTS = ts
	}
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: keep, Length: len(data)}
	if err := c.w.WritePacket(ci, data[:keep]); err != nil {
		c.err = err
		return
	}
	c.written++
}

// ParseFilter reads a classic BPF program printed by tcpdump -dd
// ("{ 0x28, 0, 0, 0x0000000c },") or -ddd (first line the instruction
// count, then "40 0 0 12"). Blank lines and lines starting with # are
// ignored. Errors name the line.
func ParseFilter(text string) ([]bpf.RawInstruction, error) {
	var out []bpf.RawInstruction
	lines := strings.Split(text, "\n")
	ddd := false
	var dddCount int
	for i, line := range lines {
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if len(out) == 0 && !ddd && !strings.HasPrefix(s, "{") {
			if n, err := strconv.Atoi(s); err == nil {
				ddd, dddCount = true, n
				continue
			}
		}
		var fields []string
		if strings.HasPrefix(s, "{") {
			s = strings.TrimSuffix(s, ",")
			if !strings.HasSuffix(s, "}") {
				return nil, fmt.Errorf("netstack: filter line %d: %q: missing closing brace", i+1, line)
			}
			fields = strings.Split(s[1:len(s)-1], ",")
		} else {
			fields = strings.Fields(s)
		}
		if len(fields) != 4 {
			return nil, fmt.Errorf("netstack: filter line %d: %q: want 4 fields (code, jt, jf, k), got %d", i+1, line, len(fields))
		}
		var v [4]uint64
		for j, f := range fields {
			f = strings.TrimSpace(f)
			bits := []int{16, 8, 8, 32}[j]
			x, err := strconv.ParseUint(f, 0, bits)
			if err != nil {
				return nil, fmt.Errorf("netstack: filter line %d: field %d %q: %w", i+1, j+1, f, err)
			}
			v[j] = x
		}
		out = append(out, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("netstack: filter has no instructions")
	}
	if ddd && dddCount != len(out) {
		return nil, fmt.Errorf("netstack: filter announces %d instructions but has %d", dddCount, len(out))
	}
	return out, nil
}
