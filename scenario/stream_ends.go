package scenario

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/skmsg/skmsg/internal/errno"
)

// ErrRecvAgain is what a StreamEnds.Recv returns when its own bounded wait
// ended with nothing read: the reader calls it again unless the step is
// over.
var ErrRecvAgain = errors.New("nothing to read yet")

// StreamEnds is what RunStream needs of a backend for one stream step: a
// blocking send on the writing socket, a blocking read at the reading one,
// and how the backend knows that no byte can move any more.
type StreamEnds struct {
	// Send is one blocking sendmsg of b: the count accepted (0 or less:
	// none) and its error. A send that cannot complete returns short, as
	// with a send timeout; the backend retries EINTR itself.
	Send func(b []byte) (int, error)
	// Recv is one blocking read into b: bytes, (0, nil) at the end of the
	// stream, ErrRecvAgain when the backend's own wait ended with
	// nothing, or the error that ends the reading (end of file, a timeout
	// and EAGAIN end it quietly).
	Recv func(b []byte) (int, error)
	// Settle, when set, waits for the pipeline to go idle, returning at
	// the latest after a second or once readerDone is closed, and says
	// whether nothing can move any more. Without it the stream is looked
	// at every 100 ms and ends by Quiet.
	Settle func(readerDone, writerDone <-chan struct{}) bool
	// Quiet, when not zero, ends the stream once the writer is done and
	// no byte has arrived for this long: for a backend that has no
	// signal of idle.
	Quiet time.Duration
	// Deadline is the session's deadline (zero: none), on the clock Now
	// (nil: time.Now).
	Deadline func() time.Time
	Now      func() time.Time
	// DeadlineError, when set, makes the error of a stream the deadline
	// stopped from what it was doing; without it the error is ErrDeadline
	// and that.
	DeadlineError func(what string) error
	// UnblockWriter and UnblockReader, when set, end a blocked Send or
	// Recv once the step is over (without them each ends within its own
	// timeout).
	UnblockWriter, UnblockReader func()
}

const (
	// streamLook is how often a stream without Settle is looked at.
	streamLook = 100 * time.Millisecond
	// streamStopWait bounds the wait for the writer and the reader to
	// return once the step is over; both are unblocked (or end within a
	// 2-second send timeout), so only a stuck call takes this long.
	streamStopWait = 5 * time.Second
	// streamReadBuf is the reader's buffer.
	streamReadBuf = 256 << 10
)

// RunStream runs req between a backend's two sockets: a writer goroutine
// sends the payload in sendmsg calls of at most req.Chunk bytes while a
// reader goroutine reads at the far end and checks every byte as it
// arrives. It ends when every byte arrived, the reader stopped (end of
// stream, an error, a byte that differs), nothing can move any more
// (Settle or Quiet), or the session's deadline passed.
func RunStream(req *StreamRequest, ends StreamEnds) (StreamResult, error) {
	now := ends.Now
	if now == nil {
		now = time.Now
	}
	from, to := req.FromName, req.ToName
	if from == "" {
		from = fmt.Sprintf("socket %d", req.From)
	}
	if to == "" {
		to = fmt.Sprintf("socket %d", req.To)
	}

	var sent atomic.Int64
	var writeErr error
	var stopWriter atomic.Bool
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		buf := make([]byte, req.Chunk)
		var pend []byte
		var made int64
		for !stopWriter.Load() {
			if len(pend) == 0 {
				if made >= req.Size {
					return
				}
				n := int(min(int64(req.Chunk), req.Size-made))
				pend = buf[:n]
				req.Fill(pend)
				made += int64(n)
			}
			n, err := ends.Send(pend)
			if n > 0 {
				sent.Add(int64(n))
				pend = pend[n:]
			}
			if err != nil {
				writeErr = err
				return
			}
		}
	}()

	var received, lastByte atomic.Int64 // lastByte: UnixNano of the last read
	var readErr error
	var bad, stopReader atomic.Bool
	rdone := make(chan struct{})
	go func() {
		defer close(rdone)
		buf := make([]byte, streamReadBuf)
		for received.Load() < req.Size && !stopReader.Load() {
			want := int(min(int64(len(buf)), req.Size-received.Load()))
			n, err := ends.Recv(buf[:want])
			if n > 0 {
				received.Add(int64(n))
				lastByte.Store(time.Now().UnixNano())
				if !req.Got(buf[:n]) {
					bad.Store(true)
					return
				}
			}
			switch {
			case errors.Is(err, ErrRecvAgain):
			case err != nil:
				readErr = err
				return
			case n <= 0:
				return // end of stream
			}
		}
	}()

	var stepErr error
	writerDone := false
	quietFrom := time.Now()
	progressAt := time.Now()
watch:
	for {
		select {
		case <-rdone:
			break watch
		default:
		}
		if d := ends.Deadline(); !d.IsZero() && !now().Before(d) {
			what := fmt.Sprintf("streaming from %s to %s (%d of %d bytes sent, %d received; writer done: %v)",
				from, to, sent.Load(), req.Size, received.Load(), writerDone)
			if ends.DeadlineError != nil {
				stepErr = ends.DeadlineError(what)
			} else {
				stepErr = fmt.Errorf("%w while %s", ErrDeadline, what)
			}
			break watch
		}
		if req.Progress != nil && time.Since(progressAt) >= time.Second {
			req.Progress(sent.Load(), received.Load())
			progressAt = time.Now()
		}
		if !writerDone {
			select {
			case <-wdone:
				writerDone = true
				quietFrom = time.Now() // the quiet period starts now at the earliest
			default:
			}
		}
		if ends.Quiet > 0 && writerDone {
			last := quietFrom
			if b := time.Unix(0, lastByte.Load()); b.After(last) {
				last = b
			}
			if time.Since(last) >= ends.Quiet {
				break watch
			}
		}
		if ends.Settle != nil {
			if ends.Settle(rdone, wdone) {
				break watch
			}
			continue
		}
		t := time.NewTimer(streamLook)
		select {
		case <-rdone:
		case <-t.C:
		}
		t.Stop()
	}

	// Stop the writer, then the reader: bytes the writer's last send
	// moves are still read.
	stopWriter.Store(true)
	writerStopped := stopWithin(wdone, ends.UnblockWriter)
	stopReader.Store(true)
	readerStopped := stopWithin(rdone, ends.UnblockReader)
	if !writerStopped || !readerStopped {
		errs := []error{stepErr}
		if !writerStopped {
			errs = append(errs, fmt.Errorf("the stream's writer on %s did not stop within %v", from, streamStopWait))
		}
		if !readerStopped {
			errs = append(errs, fmt.Errorf("the stream's reader on %s did not stop within %v", to, streamStopWait))
		}
		return StreamResult{Sent: sent.Load(), Received: received.Load()}, errors.Join(errs...)
	}
	if req.Progress != nil {
		req.Progress(sent.Load(), received.Load())
	}
	res := StreamResult{Sent: sent.Load(), Received: received.Load(), WriteErr: writeErr}
	if stepErr == nil && readErr != nil && !bad.Load() && !quietReadEnd(readErr) {
		stepErr = fmt.Errorf("reading at %s after %d bytes: %w", to, res.Received, readErr)
	}
	return res, stepErr
}

// stopWithin waits for done, calling unblock (when set) now and every
// streamLook: a call that was about to block when the first one ran is
// woken by the next.
func stopWithin(done <-chan struct{}, unblock func()) bool {
	deadline := time.NewTimer(streamStopWait)
	defer deadline.Stop()
	tick := time.NewTicker(streamLook)
	defer tick.Stop()
	for {
		if unblock != nil {
			unblock()
		}
		select {
		case <-done:
			return true
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
}

// quietReadEnd is an end of the reading that is no error of the step: the
// end of the stream, or a read the backend's deadline or timeout ended
// once the step was over.
func quietReadEnd(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, io.EOF) || errors.Is(err, errno.EAGAIN) || errors.As(err, &t) && t.Timeout()
}
