package scenario

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/errno"
)

// reads answers RecvQueued's reads in turn: bytes, or an error.
type reads []any

func (r *reads) read(b []byte) (int, error) {
	if len(*r) == 0 {
		return 0, errno.EAGAIN
	}
	next := (*r)[0]
	*r = (*r)[1:]
	switch v := next.(type) {
	case string:
		return copy(b, v), nil
	case error:
		return 0, v
	}
	panic("reads: a string or an error")
}

func TestRecvQueued(t *testing.T) {
	tests := []struct {
		name  string
		reads reads
		max   int
		peek  bool
		want  string
		eof   bool
		err   error
	}{
		{name: "until EAGAIN", reads: reads{"ab", "cd"}, want: "abcd"},
		{name: "nothing queued", reads: reads{}, want: ""},
		{name: "end of stream after data", reads: reads{"ab", ""}, want: "ab", eof: true},
		{name: "error after data waits for the next read", reads: reads{"ab", errno.ECONNRESET}, want: "ab"},
		{name: "error first", reads: reads{errno.ECONNRESET}, err: errno.ECONNRESET},
		{name: "max caps the reads", reads: reads{"abc", "def"}, max: 4, want: "abcd"},
		{name: "a peek reads once", reads: reads{"ab", "cd"}, peek: true, want: "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, eof, err := RecvQueued(tt.reads.read, tt.max, tt.peek)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			assert.Equal(t, tt.eof, eof)
		})
	}
}

// pipeEnds is a stream over a channel: sends of at most cap bytes each
// before the sender blocks, reads that wait up to 10 ms.
type pipeEnds struct {
	ch       chan []byte
	closed   chan struct{}
	once     sync.Once
	sendErr  error // after sendOK bytes
	sendOK   int
	sent     int
	recvErr  error // instead of data, once sent reached recvAfter
	flip     int   // corrupts this byte (1-based; 0: none)
	received int
	stall    bool // nothing arrives
}

func newPipe() *pipeEnds {
	return &pipeEnds{ch: make(chan []byte, 4), closed: make(chan struct{})}
}

func (p *pipeEnds) send(b []byte) (int, error) {
	if p.sendErr != nil && p.sent >= p.sendOK {
		return 0, p.sendErr
	}
	c := append([]byte(nil), b...)
	select {
	case p.ch <- c:
		p.sent += len(c)
		return len(c), nil
	case <-p.closed:
		return 0, errno.EAGAIN // the step is over: a send timeout
	}
}

func (p *pipeEnds) recv(b []byte) (int, error) {
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case c := <-p.recvCh():
		if p.recvErr != nil {
			return 0, p.recvErr
		}
		n := copy(b, c)
		if p.flip > p.received && p.flip <= p.received+n {
			b[p.flip-p.received-1] ^= 0xff
		}
		p.received += n
		return n, nil
	case <-t.C:
		return 0, ErrRecvAgain
	}
}

// recvCh is where the reader takes bytes from: none when it is stalled.
func (p *pipeEnds) recvCh() chan []byte {
	if p.stall {
		return nil
	}
	return p.ch
}

func (p *pipeEnds) ends(deadline time.Time) StreamEnds {
	return StreamEnds{
		Send: p.send, Recv: p.recv, Quiet: 50 * time.Millisecond,
		Deadline:      func() time.Time { return deadline },
		UnblockWriter: func() { p.once.Do(func() { close(p.closed) }) },
	}
}

// RunStream over a stand-in pair of sockets: what it counts, how it ends,
// and that its errors say what and where.
func TestRunStream(t *testing.T) {
	const size = 10000
	tests := []struct {
		name       string
		setup      func(p *pipeEnds)
		deadline   time.Duration
		received   int64
		writeErr   error // the writer's, when it stops by itself
		writeOK    bool
		err        error
		errText    string
		mismatched bool
	}{
		{name: "every byte", received: size, writeOK: true},
		{name: "writer fails: quiet period", setup: func(p *pipeEnds) { p.sendErr, p.sendOK = errno.EACCES, 3000 },
			received: 3000, writeErr: errno.EACCES},
		{name: "read error", setup: func(p *pipeEnds) { p.recvErr = errno.EIO },
			err: errno.EIO, errText: "reading at b after 0 bytes"},
		{name: "read ends at EOF quietly", setup: func(p *pipeEnds) { p.recvErr = io.EOF }},
		{name: "a byte differs", setup: func(p *pipeEnds) { p.flip = 1234 }, received: 2000, mismatched: true},
		{name: "deadline", setup: func(p *pipeEnds) { p.stall = true }, deadline: -time.Second,
			err: ErrDeadline, errText: "streaming from a to b ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipe()
			if tt.setup != nil {
				tt.setup(p)
			}
			var deadline time.Time
			if tt.deadline != 0 {
				deadline = time.Now().Add(tt.deadline)
			}
			w := NewPatternStream(PatternSeq, 0)
			c := &streamChecker{want: NewPatternStream(PatternSeq, 0)}
			var progress int
			req := &StreamRequest{FromName: "a", ToName: "b", Size: size, Chunk: 1000, Fill: w.Fill, Got: c.check,
				Progress: func(sent, received int64) { progress++ }}
			res, err := RunStream(req, p.ends(deadline))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Contains(t, err.Error(), tt.errText)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.received, res.Received)
			assert.Equal(t, tt.mismatched, c.mismatch != "", c.mismatch)
			if tt.writeErr != nil {
				assert.ErrorIs(t, res.WriteErr, tt.writeErr)
			}
			if tt.writeOK {
				assert.NoError(t, res.WriteErr)
			}
			assert.Positive(t, progress, "the last counts are reported")
		})
	}
}

// A writer whose send never returns makes RunStream give up after its
// bounded wait and say so, instead of hanging.
func TestRunStreamStuckWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("waits the 5-second bound")
	}
	block := make(chan struct{})
	defer close(block)
	var sending atomic.Bool
	readerUnblocked := make(chan struct{})
	var readerOnce sync.Once
	w := NewPatternStream(PatternSeq, 0)
	req := &StreamRequest{FromName: "a", ToName: "b", Size: 100, Chunk: 10, Fill: w.Fill, Got: func([]byte) bool { return true }}
	_, err := RunStream(req, StreamEnds{
		Send: func([]byte) (int, error) {
			sending.Store(true)
			<-block
			return 0, errors.New("unblocked")
		},
		// A reader with nothing to read blocks until RunStream ends it,
		// as a backend's read does until its unblock.
		Recv:          func([]byte) (int, error) { <-readerUnblocked; return 0, ErrRecvAgain },
		UnblockReader: func() { readerOnce.Do(func() { close(readerUnblocked) }) },
		Deadline: func() time.Time {
			if !sending.Load() {
				return time.Time{}
			}
			return time.Now().Add(-time.Second)
		},
	})
	require.ErrorIs(t, err, ErrDeadline)
	assert.Contains(t, err.Error(), "the stream's writer on a did not stop")
}
