package runtime

import "sync"

// ingressLedger records, in queue order, which bytes of a socket's
// ingress queue were the socket's own received data: what its receive
// verdict passed to itself, and in verdict-only mode what it redirected to
// its own ingress. Reading those advances TCP's copied_seq on the kernel
// (tcp_bpf_recvmsg_parser); bytes another socket redirected in do not
// (recorded on 6.18: reading them never holds back the reader's own
// verdict). A self-redirect was already consumed when the verdict took it
// (tcp_eat_skb), so reading it moves copied_seq past rcv_nxt and the next
// arrivals, up to that many bytes, wake no verdict. The strparser's read
// re-derives copied_seq from what it parsed, so there only PASS counts.
type ingressLedger struct {
	mu    sync.Mutex
	segs  []ingressSeg
	total int
}

type ingressSeg struct {
	n   int
	own bool
}

// add records n bytes queued at the tail.
func (l *ingressLedger) add(n int, own bool) {
	if n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total += n
	if k := len(l.segs); k > 0 && l.segs[k-1].own == own {
		l.segs[k-1].n += n
		return
	}
	l.segs = append(l.segs, ingressSeg{n: n, own: own})
}

// take removes n bytes from the head (a read of them) and returns how many
// of them were the socket's own.
func (l *ingressLedger) take(n int) (own int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for n > 0 && len(l.segs) > 0 {
		s := &l.segs[0]
		k := min(n, s.n)
		if s.own {
			own += k
		}
		s.n -= k
		l.total -= k
		n -= k
		if s.n == 0 {
			l.segs = l.segs[1:]
		}
	}
	if len(l.segs) == 0 {
		l.segs = nil
	}
	return own
}

// queued is how many bytes the ledger holds.
func (l *ingressLedger) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
