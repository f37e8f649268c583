package scenario

import (
	"errors"

	"github.com/skmsg/skmsg/internal/errno"
)

// recvChunk is the buffer of one read of RecvQueued.
const recvChunk = 64 << 10

// RecvQueued is Session.Recv over a backend's non-blocking read: it reads
// what is queued now, at most max bytes (max 0: no cap), the way an
// application drains a socket with MSG_DONTWAIT. read is one recv(2) with
// MSG_DONTWAIT (and MSG_PEEK when peek): bytes, (0, nil) at the end of the
// stream, an error wrapping EAGAIN when nothing is queued, or the socket's
// error; a backend retries EINTR itself. A peek reads once: a second peek
// would see the same bytes again. An error that follows data is left for
// the next read, as recv(2) returns the data first.
func RecvQueued(read func(b []byte) (int, error), max int, peek bool) (data []byte, eof bool, err error) {
	var out []byte
	buf := make([]byte, recvChunk)
	for max <= 0 || len(out) < max {
		want := len(buf)
		if max > 0 {
			want = min(want, max-len(out))
		}
		n, err := read(buf[:want])
		switch {
		case errors.Is(err, errno.EAGAIN):
			return out, false, nil
		case err != nil:
			if len(out) > 0 {
				return out, false, nil
			}
			return nil, false, err
		case n == 0:
			return out, true, nil
		}
		out = append(out, buf[:n]...)
		if peek {
			return out, false, nil
		}
	}
	return out, false, nil
}
