//go:build linux

package kernel

import (
	"errors"
	"fmt"
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

// Stream implements scenario.Session (scenario.RunStream): a writer
// goroutine makes blocking sendmsg calls (each bounded by the 2-second
// SO_SNDTIMEO) while a reader goroutine polls and reads the far end.
func (s *session) Stream(req *scenario.StreamRequest) (scenario.StreamResult, error) {
	wfd, err := s.fd(req.From)
	if err != nil {
		return scenario.StreamResult{}, err
	}
	rfd, err := s.fd(req.To)
	if err != nil {
		return scenario.StreamResult{}, err
	}
	return scenario.RunStream(req, scenario.StreamEnds{
		Send: func(b []byte) (int, error) {
			for {
				n, err := unix.SendmsgBuffers(wfd, [][]byte{b}, nil, nil, unix.MSG_NOSIGNAL)
				if err != unix.EINTR {
					return n, err
				}
			}
		},
		Recv:     func(b []byte) (int, error) { return streamRecv(rfd, b) },
		Quiet:    streamQuiet,
		Deadline: s.getDeadline,
	})
}

// streamPoll bounds one wait of the stream's reader for bytes, so that it
// sees the step end.
const streamPoll = 100 // ms

// streamRecv reads what arrived at fd, waiting up to streamPoll for it. A
// reset or broken connection ends the stream as its end would: the bytes
// read so far are the answer.
func streamRecv(fd int, b []byte) (int, error) {
	polled := false
	for {
		n, _, err := unix.Recvfrom(fd, b, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && !polled:
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, streamPoll); err != nil && err != unix.EINTR {
				return 0, fmt.Errorf("poll: %w", err)
			}
			polled = true
			continue
		case err == unix.EAGAIN:
			return 0, scenario.ErrRecvAgain
		case errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE):
			return 0, nil
		}
		return n, err
	}
}
