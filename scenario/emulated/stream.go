package emulated

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/scenario"
)

// Stream implements scenario.Session: a writer goroutine sends the payload
// in chunks through the socket's whole send path (sk_msg programs
// included) while a reader goroutine reads at the far end, both blocking as
// an application would (scenario.RunStream). The step ends when every
// byte arrived, or when the pipeline is idle with the writer done or
// blocked: then no byte can move any more, and a blocked writer is timed
// out as a send timeout would.
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
	if req.FromName == "" || req.ToName == "" {
		r := *req
		r.FromName, r.ToName = s.names.of(from.s), s.names.of(to.s)
		req = &r
	}
	net := s.rt.Net().Netstack()
	// The reader's deadline, set to stop it, must not outlive the step.
	defer func() { _ = to.s.Conn().SetReadDeadline(time.Time{}) }()
	return scenario.RunStream(req, scenario.StreamEnds{
		Send: func(b []byte) (int, error) { return from.s.SendMsg([][]byte{b}, 0) },
		Recv: func(b []byte) (int, error) { return recvEOF(to.s.RecvMsg(b, 0)) },
		Settle: func(readerDone, writerDone <-chan struct{}) bool {
			ctx, cancel := s.deadlineCtx()
			stop := make(chan struct{})
			go func() {
				// The reader finishing (all bytes, end of stream) ends
				// the wait early; so does a second gone by, for
				// progress reports.
				t := time.NewTimer(time.Second)
				defer t.Stop()
				select {
				case <-readerDone:
				case <-t.C:
				case <-stop:
				}
				cancel()
			}()
			readable := func() bool { return to.s.Conn().Raw().Readable() > 0 }
			before := readable()
			err := net.WaitIdle(ctx)
			close(stop)
			cancel()
			if err != nil {
				return false // woken early or at the deadline: RunStream looks
			}
			select {
			case <-readerDone:
				return false
			default:
			}
			// Idle. Bytes readable at the far end, now or when the wait
			// began, are the reader's to take; otherwise nothing moves
			// any more. Both looks, not the last alone: a reader that got
			// the CPU only after the network went quiet (a full receive
			// buffer, a zero window) may have drained the buffer since,
			// and its window update has the writer moving again.
			if before || readable() {
				return false
			}
			select {
			case <-writerDone:
				return true
			default:
			}
			if net.SendsBlocked() > 0 && net.IdleNow() {
				// The writer is stuck: time its send out; its next
				// one fails with EAGAIN (see Send).
				net.TimeOutBlockedSends()
			}
			return false // blocked sends timed out, or the writer is between two sendmsg calls
		},
		Deadline: s.getDeadline,
		Now:      s.now,
		DeadlineError: func(what string) error {
			return s.deadlineError(what, nil)
		},
		UnblockWriter: net.TimeOutBlockedSends,
		UnblockReader: func() { _ = to.s.Conn().SetReadDeadline(time.Now()) },
	})
}

// recvEOF turns the runtime's end of stream, (0, io.EOF), into recv(2)'s
// zero-length read.
func recvEOF(n int, err error) (int, error) {
	if n == 0 && errors.Is(err, io.EOF) {
		return 0, nil
	}
	return n, err
}

func (s *skmsgSession) getDeadline() time.Time {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	return s.deadline
}
