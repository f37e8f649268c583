//go:build linux

package kernel

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skmsg/skmsg/scenario"
)

// SetDeadline implements scenario.Session. Blocking sends are bounded by
// their 2-second SO_SNDTIMEO anyway; the deadline bounds the waits for
// idle and streams.
func (s *session) SetDeadline(t time.Time) {
	s.dlMu.Lock()
	s.deadline = t
	s.dlMu.Unlock()
}

func (s *session) getDeadline() time.Time {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	return s.deadline
}

// streamQuiet is how long a stream's reader waits for another byte once
// the writer is done (or blocked for good) before it decides nothing more
// will arrive: the kernel gives no signal that a pipeline is idle.
const streamQuiet = 2 * time.Second

// Stream implements scenario.Session: a writer goroutine makes blocking
// sendmsg calls (each bounded by the 2-second SO_SNDTIMEO) while this
// goroutine polls and reads the far end.
func (s *session) Stream(req *scenario.StreamRequest) (scenario.StreamResult, error) {
	wfd, err := s.fd(req.From)
	if err != nil {
		return scenario.StreamResult{}, err
	}
	rfd, err := s.fd(req.To)
	if err != nil {
		return scenario.StreamResult{}, err
	}
	var sent atomic.Int64
	var writeErr error
	var stop atomic.Bool
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		buf := make([]byte, req.Chunk)
		var pend []byte
		var made int64
		for !stop.Load() {
			if len(pend) == 0 {
				if made >= req.Size {
					return
				}
				n := int(min(int64(req.Chunk), req.Size-made))
				pend = buf[:n]
				req.Fill(pend)
				made += int64(n)
			}
			n, err := unix.SendmsgBuffers(wfd, [][]byte{pend}, nil, nil, unix.MSG_NOSIGNAL)
			if err == unix.EINTR {
				continue
			}
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

	var received int64
	var stepErr error
	buf := make([]byte, 256<<10)
	lastByte, progressAt := time.Now(), time.Now()
	writerDone := false
read:
	for received < req.Size {
		if d := s.getDeadline(); !d.IsZero() && time.Now().After(d) {
			stepErr = fmt.Errorf("%w while streaming (%d of %d bytes sent, %d received; writer done: %v)",
				scenario.ErrDeadline, sent.Load(), req.Size, received, writerDone)
			break
		}
		if req.Progress != nil && time.Since(progressAt) >= time.Second {
			req.Progress(sent.Load(), received)
			progressAt = time.Now()
		}
		if !writerDone {
			select {
			case <-wdone:
				writerDone = true
				lastByte = time.Now() // the quiet period starts now at the earliest
			default:
			}
		}
		if writerDone && time.Since(lastByte) >= streamQuiet {
			break
		}
		pfd := []unix.PollFd{{Fd: int32(rfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 100); err != nil && err != unix.EINTR {
			stepErr = fmt.Errorf("poll: %w", err)
			break
		}
		if pfd[0].Revents == 0 {
			continue
		}
		for received < req.Size {
			want := int(min(int64(len(buf)), req.Size-received))
			n, _, err := unix.Recvfrom(rfd, buf[:want], unix.MSG_DONTWAIT)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				break
			}
			if err != nil {
				if errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE) {
					break read
				}
				stepErr = fmt.Errorf("reading after %d bytes: %w", received, err)
				break read
			}
			if n == 0 {
				break read // end of stream
			}
			received += int64(n)
			lastByte = time.Now()
			if !req.Got(buf[:n]) {
				break read
			}
		}
	}
	stop.Store(true)
	<-wdone // a blocked sendmsg ends within its send timeout
	if req.Progress != nil {
		req.Progress(sent.Load(), received)
	}
	return scenario.StreamResult{Sent: sent.Load(), Received: received, WriteErr: writeErr}, stepErr
}
