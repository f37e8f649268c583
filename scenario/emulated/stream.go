package emulated

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/scenario"
)

// Stream implements scenario.Session: a writer goroutine sends the payload
// in chunks through the socket's whole send path (sk_msg programs
// included) while a reader goroutine reads at the far end, both blocking as
// an application would. The step ends when every byte arrived, or when the
// pipeline is idle with the writer done or blocked: then no byte can move
// any more, and a blocked writer is timed out as a send timeout would.
func (s *skmsgSession) Stream(req *scenario.StreamRequest) (scenario.StreamResult, error) {
	from, err := s.sock(req.From)
	if err != nil {
		return scenario.StreamResult{}, err
	}
	to, err := s.sock(req.To)
	if err != nil {
		return scenario.StreamResult{}, err
	}
	if from.s.Conn() == nil || to.s.Conn() == nil {
		return scenario.StreamResult{}, fmt.Errorf("stream: both ends must be connected sockets: %w", errno.ENOTCONN)
	}
	var sent, received atomic.Int64
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
			w, err := from.s.SendMsg([][]byte{pend}, 0)
			sent.Add(int64(w))
			pend = pend[w:]
			if err != nil {
				writeErr = err
				return
			}
		}
	}()
	var readErr error
	var bad atomic.Bool
	rdone := make(chan struct{})
	go func() {
		defer close(rdone)
		buf := make([]byte, 256<<10)
		for received.Load() < req.Size {
			want := int(min(int64(len(buf)), req.Size-received.Load()))
			n, err := to.s.RecvMsg(buf[:want], 0)
			if n > 0 {
				received.Add(int64(n))
				if !req.Got(buf[:n]) {
					bad.Store(true)
					return
				}
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}()

	net := s.rt.Net().Netstack()
	var stepErr error
	progressAt := time.Now()
	for {
		if req.Progress != nil && time.Since(progressAt) >= time.Second {
			req.Progress(sent.Load(), received.Load())
			progressAt = time.Now()
		}
		select {
		case <-rdone:
		default:
			ctx, cancel := s.deadlineCtx()
			stop := make(chan struct{})
			go func() {
				// The reader finishing (all bytes, end of stream) ends
				// the wait early; so does a second gone by, for
				// progress reports.
				t := time.NewTimer(time.Second)
				defer t.Stop()
				select {
				case <-rdone:
				case <-t.C:
				case <-stop:
				}
				cancel()
			}()
			err := net.WaitIdle(ctx)
			close(stop)
			timedOut := ctx.Err() != nil && s.pastDeadline()
			cancel()
			if timedOut {
				stepErr = s.deadlineError(fmt.Sprintf("streaming from %s to %s (%d of %d bytes sent, %d received)",
					s.names.of(from.s), s.names.of(to.s), sent.Load(), req.Size, received.Load()), err)
				break
			}
			if err != nil {
				continue // woken early: look again
			}
			select {
			case <-rdone:
			default:
				// Idle. Bytes still readable at the far end are the
				// reader's to take; otherwise nothing moves any more.
				if to.s.Conn().Raw().Readable() > 0 {
					continue
				}
				select {
				case <-wdone:
				default:
					if net.SendsBlocked() == 0 {
						continue // the writer is between two sendmsg calls
					}
					// The writer is stuck: time its send out; its
					// next one fails with EAGAIN (see Send).
					net.TimeOutBlockedSends()
					continue
				}
			}
		}
		break
	}
	// Stop both sides: a blocked writer times out, a blocked reader gets
	// its deadline.
	stopWriter.Store(true)
	net.TimeOutBlockedSends()
	select {
	case <-wdone:
	case <-time.After(5 * time.Second):
		if stepErr == nil {
			stepErr = fmt.Errorf("the stream's writer on %s did not stop", s.names.of(from.s))
		}
	}
	net.TimeOutBlockedSends()
	_ = to.s.Conn().SetReadDeadline(time.Now())
	<-rdone
	_ = to.s.Conn().SetReadDeadline(time.Time{})
	if req.Progress != nil {
		req.Progress(sent.Load(), received.Load())
	}
	res := scenario.StreamResult{Sent: sent.Load(), Received: received.Load(), WriteErr: writeErr}
	if stepErr == nil && readErr != nil && !bad.Load() && !errors.Is(readErr, io.EOF) && !errors.Is(readErr, errno.EAGAIN) && !isDeadline(readErr) {
		stepErr = fmt.Errorf("reading at %s after %d bytes: %w", s.names.of(to.s), res.Received, readErr)
	}
	return res, stepErr
}

func (s *skmsgSession) pastDeadline() bool {
	s.dlMu.Lock()
	d := s.deadline
	s.dlMu.Unlock()
	return !d.IsZero() && !s.now().Before(d)
}

// isDeadline is a read ended by SetReadDeadline.
func isDeadline(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
