package runtime

import (
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"
)

// This file is the stream parser (net/strparser, __strp_recv) as sockmap
// drives it: the parser program frames messages in the TCP byte stream and
// each complete message goes to the verdict program.
//
// The kernel's view is segment based, and so is this one: the message in
// progress ("head") starts at the beginning of the skb in which the
// message began, and every later skb is appended whole. The parser and
// the verdict see the head from that segment start (skb->len counts the
// bytes before the message and those after it in the last skb); the
// message itself is [off, off+full) of the head, and only that range is
// delivered.

// strparser is the state of one socket's stream parser.
type strparser struct {
	head  []byte // the head skb's bytes: segment start .. everything appended
	off   int    // where the message starts in head
	accum int    // message bytes accumulated so far (from off)
	full  int    // the message's length once the parser said it, else 0
}

const (
	errnoESTRPIPE = 86
	errnoENODATA  = 61
)

// strpRecv is __strp_recv for one arrival b (the whole skb, offset 0).
func (p *psock) strpRecv(b []byte) {
	rx := &p.rx
	sp := &rx.strp
	eaten := 0
	for eaten < len(b) && rx.mode == rxStrp && rx.err == 0 {
		cand := len(b) - eaten
		var appended int
		if sp.head == nil {
			// A new message starts at eaten: the head is the whole skb.
			sp.head, sp.off, sp.accum, sp.full = b, eaten, 0, 0
			appended = len(b)
		} else {
			// Appending to the head: one contiguous view of head+b.
			nh := make([]byte, len(sp.head)+len(b))
			copy(nh, sp.head)
			copy(nh[len(sp.head):], b)
			sp.head = nh
			appended = len(b)
		}
		if sp.full == 0 {
			ret := p.runParser(sp.head)
			switch {
			case ret == 0:
				// Need more data.
				sp.accum += cand
				return
			case ret < 0:
				e := syscall.Errno(-ret)
				if ret == -errnoESTRPIPE && sp.accum > 0 {
					e = errnoENODATA
				}
				p.abort(e)
				return
			case ret > int64(p.sk.rcvbuf()):
				p.abort(errno.EMSGSIZE)
				return
			case ret <= int64(len(sp.head)-appended-sp.off):
				// The length must reach into the new skb.
				p.abort(errno.EPROTO)
				return
			}
			sp.full = int(ret)
		}
		extra := sp.accum + cand - sp.full
		if extra < 0 {
			// Message not complete yet: wait for more.
			sp.accum += cand
			return
		}
		eaten += cand - extra
		head, off, full := sp.head, sp.off, sp.full
		*sp = strparser{}
		p.strpMsg(head, off, full)
	}
}

// runParser runs the stream parser on head; its return is an int.
func (p *psock) runParser(head []byte) int64 {
	prog := p.progs.streamParser.Load()
	if prog == nil {
		return int64(len(head))
	}
	res := p.sk.rt.runSkbProg(prog, p.sk, head, nil, func(skbRunResult) string { return "parser" })
	if res.err != nil {
		// A program stopped by a fault has no return value; the kernel's
		// verifier would have refused it. Treat it as an error return.
		return -int64(errno.EINVAL)
	}
	return int64(int32(uint32(res.ret)))
}

// strpMsg is sk_psock_strp_read: the verdict runs on the complete head
// and [off, off+full) of it is delivered.
func (p *psock) strpMsg(head []byte, off, full int) {
	prog := p.progs.streamVerdict.Load()
	v, target, ingress, after := verdictPass, (*Socket)(nil), false, head
	if prog != nil {
		res := p.sk.rt.runSkbProg(prog, p.sk, head, &after, skbVerdictLabel)
		v, target, ingress = skbVerdictOf(res)
	}
	// The delivered range was fixed before the verdict ran; helpers that
	// changed the skb's size shift which bytes fall in it.
	end := off + full
	if end > len(after) {
		end = len(after)
	}
	var msg []byte
	if off < end {
		msg = after[off:end]
	}
	p.applyVerdict(v, target, ingress, msg)
}
