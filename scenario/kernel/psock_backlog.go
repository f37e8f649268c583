//go:build linux

package kernel

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The sockmap's backlog worker (sk_psock_backlog, a work item on the
// system workqueue) delivers an sk_skb verdict's redirect to its target
// some time after the verdict ran: on a busy machine, longer than any
// quiet period of the sockets' queues. While it waits, no queue shows the
// bytes: the source's receive queue gave them up to the verdict, the
// target's ingress queue has not got them yet. What does show is the
// socket reference counts: the queued skb holds a reference to the socket
// it came from, and the pending work one to the socket it goes to (both
// recorded on 6.18: 2 → 3 on each while the skb waits, back to 2 once
// delivered). /proc/net/tcp prints sk_refcnt for every socket of the
// namespace.
//
// A socket at rest holds one reference for its file, one for its psock
// when it is in a sockmap or sockhash, and one per pending TCP timer
// (retransmit or probe, keepalive: the "tr" column); a delayed ACK's timer
// holds one too but the column does not show it, and it fires within
// 200 ms. So WaitIdle learns each socket's resting count (the lowest seen,
// timers taken off) and does not call the network idle while a socket
// with a psock (two or more at rest) holds more. A count that stays above
// it for refAdopt is taken as the new resting count: a holder that does
// not go away (something this model does not know).
//
// Only sessions with an sk_skb program attached wait for this: sk_msg
// redirects are delivered inside the sendmsg that made them, and waiting
// for every delayed ACK would add up to 200 ms to every step that moves
// data.

// usesBacklog says whether programs of an attach type hand skbs to the
// backlog worker.
func usesBacklog(kind ebpf.AttachType) bool {
	switch kind {
	case ebpf.AttachSkSKBStreamParser, ebpf.AttachSkSKBStreamVerdict, ebpf.AttachSkSKBVerdict:
		return true
	}
	return false
}

// refAdopt is how long a socket's reference count may stay above its
// resting count before it is taken as the new resting count.
const refAdopt = 500 * time.Millisecond

// sockRefs is a socket's reference count bookkeeping.
type sockRefs struct {
	inode    uint64
	resting  int // -1: not seen yet
	elevated time.Time
}

// procRefs reads sk_refcnt and whether a TCP timer is pending for every
// TCP socket of the session's namespace, by inode.
func (s *session) procRefs() (map[uint64][2]int, error) {
	out := map[uint64][2]int{}
	err := s.ns.do(func() error {
		for _, f := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("socket reference counts: %w", err)
			}
			lines := bytes.Split(b, []byte("\n"))
			for _, l := range lines[1:] {
				// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref ...
				fs := bytes.Fields(l)
				if len(fs) < 11 {
					continue
				}
				ino, err1 := strconv.ParseUint(string(fs[9]), 10, 64)
				ref, err2 := strconv.Atoi(string(fs[10]))
				if err1 != nil || err2 != nil {
					return fmt.Errorf("socket reference counts: unexpected line in %s: %q", f, l)
				}
				timer := 0
				if !bytes.HasPrefix(fs[5], []byte("00:")) {
					timer = 1
				}
				out[ino] = [2]int{ref, timer}
			}
		}
		return nil
	})
	return out, err
}

// refsAtRest says whether every open socket holds no more references
// than at rest (see above), and what holds one if not.
func (s *session) refsAtRest(now time.Time) (string, error) {
	refs, err := s.procRefs()
	if err != nil {
		return "", err
	}
	busy := ""
	for id, k := range s.socks {
		if k.closed || k.listen {
			continue
		}
		if k.refs.inode == 0 {
			var st unix.Stat_t
			if err := unix.Fstat(k.fd, &st); err != nil {
				return "", fmt.Errorf("socket %d: %w", id, err)
			}
			k.refs.inode = st.Ino
		}
		r, ok := refs[k.refs.inode]
		if !ok {
			continue // closed by the peer and gone, or in TIME_WAIT
		}
		if n := r[0] - r[1]; k.refs.observe(n, now) {
			busy = fmt.Sprintf("socket %d holds %d references, %d at rest", id, n, k.refs.resting)
		}
	}
	return busy, nil
}

// observe takes a socket's reference count (pending TCP timers taken off)
// at now and says whether it holds more than at rest, learning the resting
// count as it goes (see above).
func (r *sockRefs) observe(n int, now time.Time) (busy bool) {
	switch {
	case r.resting >= 0 && r.resting < 2 && n >= r.resting:
		// No psock: no backlog work for or from it. (One a sockops
		// program adds later is not seen; MapUpdate resets the count.)
	case r.resting < 0 || n < r.resting:
		r.resting, r.elevated = n, time.Time{}
	case n == r.resting:
		r.elevated = time.Time{}
	case r.elevated.IsZero():
		r.elevated = now
		return true
	case now.Sub(r.elevated) >= refAdopt:
		r.resting, r.elevated = n, time.Time{}
	default:
		return true
	}
	return false
}
