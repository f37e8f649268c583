package scenario

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits of a stream step. The payload is generated as it is written and
// checked as it arrives, so its size costs time, not memory.
const (
	// MaxStreamSize bounds one stream step (64 GiB).
	MaxStreamSize = 64 << 30
	// DefaultStreamChunk is a stream's largest sendmsg without chunk:.
	DefaultStreamChunk = 64 << 10
	// MaxStreamChunk bounds chunk: (each sendmsg's buffer is allocated).
	MaxStreamChunk = 16 << 20
)

// stream parses stream: {from, to, size, pattern, chunk}.
func (p *parser) stream(s *Step, f fields, path string, need func(string) *yaml.Node) {
	if v := need("from"); v != nil {
		s.StreamFrom, _ = p.name(v, path+".from")
	}
	if v := need("to"); v != nil {
		s.StreamTo, _ = p.name(v, path+".to")
	}
	if v := need("size"); v != nil {
		if n, ok := p.integer(v, path+".size", 64); ok {
			if n < 0 || n > MaxStreamSize {
				p.errorf(v, path+".size", "size %d out of range (0 to %d)", n, int64(MaxStreamSize))
			}
			s.StreamSize = n
		}
	}
	s.StreamPattern = PatternSeq
	if v := f.get("pattern"); v != nil {
		if name, ok := p.str(v, path+".pattern"); ok {
			pat, ok := patternNames[name]
			if !ok {
				p.errorf(v, path+".pattern", "unknown pattern %s (expected one of seq, zero, random)", quote(name))
			}
			s.StreamPattern = pat
		}
	}
	s.Chunk = DefaultStreamChunk
	if v := f.get("chunk"); v != nil {
		if n, ok := p.integer(v, path+".chunk", 32); ok {
			if n < 1 || n > MaxStreamChunk {
				p.errorf(v, path+".chunk", "chunk %d out of range (1 to %d)", n, MaxStreamChunk)
			}
			s.Chunk = int(n)
		}
	}
	if s.Expect.Ret != nil {
		p.errorf(f.node, path+".expect", "a stream expects received or error, not ret")
	}
}

// PatternStream produces a pattern's bytes in order, any number at a time:
// the bytes PatternBytes(p, n, seed) would give, without holding them all.
type PatternStream struct {
	p   Pattern
	off int64
	rng *rand.ChaCha8
}

// NewPatternStream starts p at offset 0.
func NewPatternStream(p Pattern, seed uint64) *PatternStream {
	ps := &PatternStream{p: p}
	if p == PatternRandom {
		var s [32]byte
		binary.LittleEndian.PutUint64(s[:8], seed)
		ps.rng = rand.NewChaCha8(s)
	}
	return ps
}

// Fill writes the next len(b) bytes of the pattern into b.
func (ps *PatternStream) Fill(b []byte) {
	switch ps.p {
	case PatternSeq:
		for i := range b {
			b[i] = byte(ps.off + int64(i))
		}
	case PatternRandom:
		_, _ = ps.rng.Read(b)
	default:
		clear(b)
	}
	ps.off += int64(len(b))
}

// streamChecker compares what arrives with the pattern, in order, and
// remembers the first difference.
type streamChecker struct {
	want     *PatternStream
	buf      []byte
	got      int64
	mismatch string
}

// check compares the next bytes; false once they differ.
func (c *streamChecker) check(b []byte) bool {
	if c.mismatch != "" {
		return false
	}
	if cap(c.buf) < len(b) {
		c.buf = make([]byte, len(b))
	}
	want := c.buf[:len(b)]
	c.want.Fill(want)
	for i := range b {
		if b[i] != want[i] {
			lo, hi := max(0, i-8), min(len(b), i+8)
			c.mismatch = fmt.Sprintf("byte %d differs: expected %s, got %s (bytes %d to %d)",
				c.got+int64(i), hexBytes(want[lo:hi]), hexBytes(b[lo:hi]), c.got+int64(lo), c.got+int64(hi))
			c.got += int64(i)
			return false
		}
	}
	c.got += int64(len(b))
	return true
}

func hexBytes(b []byte) string {
	var sb strings.Builder
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", x)
	}
	return sb.String()
}

// quote shows a value from the file in a message, shortened: a message
// never carries a whole payload.
func quote(s string) string {
	const keep = 40
	if len(s) <= keep {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:keep], len(s))
}

// stream runs a stream step: the backend moves the bytes, the runner
// makes and checks them.
func (r *runner) stream(s *Step, obs *Observation) string {
	from, msg := r.socket(s.StreamFrom)
	if msg != "" {
		return msg
	}
	to, msg := r.socket(s.StreamTo)
	if msg != "" {
		return msg
	}
	w := NewPatternStream(s.StreamPattern, r.seed)
	c := &streamChecker{want: NewPatternStream(s.StreamPattern, r.seed)}
	req := &StreamRequest{From: from, To: to, FromName: s.StreamFrom, ToName: s.StreamTo, Size: s.StreamSize, Chunk: s.Chunk, Fill: w.Fill, Got: c.check}
	if r.progress != nil {
		p := Progress{File: r.sc.File, Step: r.number + 1, Line: s.Pos.Line, Desc: r.describe(s), Size: s.StreamSize}
		req.Progress = func(sent, received int64) {
			p.Sent, p.Received = sent, received
			r.progress(p)
		}
	}
	res, err := r.sess.Stream(req)
	if err != nil {
		return fmt.Sprintf("stream: %v", err)
	}
	received := res.Received
	obs.Ret = &received
	obs.Detail = fmt.Sprintf("%d bytes sent, %d received", res.Sent, res.Received)
	if c.mismatch != "" {
		return fmt.Sprintf("the bytes arriving at %s differ from those written on %s: %s", s.StreamTo, s.StreamFrom, c.mismatch)
	}
	if m := outcome(res.WriteErr, s.Expect, obs); m != "" {
		return fmt.Sprintf("writing on %s after %d bytes: %s", s.StreamFrom, res.Sent, m)
	}
	want, what := s.StreamSize, "every byte written"
	if s.Expect.Received != nil {
		want, what = *s.Expect.Received, fmt.Sprintf("%d bytes", *s.Expect.Received)
	} else if s.Expect.Errno != 0 {
		want, what = res.Sent, "every byte accepted"
	}
	if res.Received != want {
		return fmt.Sprintf("expected %s to arrive at %s, got %d of %d sent", what, s.StreamTo, res.Received, res.Sent)
	}
	return ""
}
