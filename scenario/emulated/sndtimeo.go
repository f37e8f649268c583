package emulated

import (
	"context"
	"fmt"
	"time"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/netstack"
	"github.com/skmsg/skmsg/scenario"
)

// A blocking send that cannot complete ends the way a sendmsg with a send
// timeout (SO_SNDTIMEO) ends on the kernel: with the count accepted so far,
// or EAGAIN if none. The kernel needs a clock for that; skmsg knows when no
// byte can move any more - the pipeline is idle and the send is still
// blocked - and ends it then (netstack's TimeOutBlockedSends), so the
// result does not depend on how long a timeout is or how fast the machine.

// SetDeadline implements scenario.Session.
func (s *skmsgSession) SetDeadline(t time.Time) {
	s.dlMu.Lock()
	s.deadline = t
	s.dlMu.Unlock()
}

// deadlineCtx is a context that ends at the session's deadline (or, with no
// deadline, after the idle timeout).
func (s *skmsgSession) deadlineCtx() (context.Context, context.CancelFunc) {
	s.dlMu.Lock()
	d := s.deadline
	s.dlMu.Unlock()
	if d.IsZero() {
		return s.timeout(context.Background(), s.env.IdleTimeout)
	}
	return s.timeout(context.Background(), d.Sub(s.now()))
}

// deadlineError says what the pipeline was still doing when the deadline
// passed (err, the context's, adds nothing to that).
func (s *skmsgSession) deadlineError(what string, err error) error {
	net := s.rt.Net().Netstack()
	if b := net.SendsBlocked(); b > 0 {
		what += fmt.Sprintf("; %d send(s) blocked: send buffer full", b)
	}
	_ = err
	return fmt.Errorf("%w while %s; still busy: %s", scenario.ErrDeadline, what, net.BusyReason())
}

// sendResult is what a sendmsg returned.
type sendResult struct {
	n   int
	err error
}

// Send implements scenario.Session.
func (s *skmsgSession) Send(id scenario.SocketID, iov [][]byte, flags int) (int, error) {
	k, err := s.sock(id)
	if err != nil {
		return 0, err
	}
	// skmsg raises no SIGPIPE: every send is MSG_NOSIGNAL already.
	if flags&netstack.MSG_DONTWAIT != 0 {
		return k.s.SendMsg(iov, flags)
	}
	done := make(chan sendResult, 1)
	go func() {
		n, err := k.s.SendMsg(iov, flags)
		done <- sendResult{n, err}
	}()
	r, err := s.awaitBlocking(done, "sending on "+s.names.of(k.s))
	if err != nil {
		return r.n, err
	}
	return r.n, r.err
}

// awaitBlocking waits for a blocking send to return. Once the network is
// idle with a send still blocked nothing can free room any more: every
// blocked send is timed out and returns short. The session's deadline ends
// the wait with an error saying what was still going on.
func (s *skmsgSession) awaitBlocking(done chan sendResult, what string) (sendResult, error) {
	net := s.rt.Net().Netstack()
	for {
		select {
		case r := <-done:
			return r, nil
		default:
		}
		ctx, cancel := s.deadlineCtx()
		stop := make(chan struct{})
		go func() {
			// Stop waiting for idle as soon as the send returns.
			select {
			case r := <-done:
				done <- r
				cancel()
			case <-stop:
			}
		}()
		err := net.WaitIdle(ctx)
		close(stop)
		cancel()
		if err != nil {
			select {
			case r := <-done:
				return r, nil
			default:
			}
			derr := s.deadlineError(what, err)
			net.TimeOutBlockedSends()
			return s.unblocked(done), derr
		}
		if net.SendsBlocked() > 0 {
			net.TimeOutBlockedSends()
			return s.unblocked(done), nil
		}
		// Idle, and the send is between two of its pieces: look again.
	}
}

// unblocked waits for a send that TimeOutBlockedSends woke. A send blocked
// somewhere netstack cannot wake gets a bounded wait and an error.
func (s *skmsgSession) unblocked(done chan sendResult) sendResult {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case r := <-done:
		return r
	case <-t.C:
		return sendResult{err: fmt.Errorf("the blocked send did not end after its send timeout: %w", errno.EAGAIN)}
	}
}
