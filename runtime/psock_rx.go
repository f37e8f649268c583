package runtime

import "syscall"

// This file is the extension point of the receive side (sk_skb stream
// parser and verdict): the receive state of a psock and the hooks the
// sockmap code calls. The receive path fills these in; until then a psock
// never takes over a socket's receive side, so sk_skb programs inherited
// at insertion are recorded but not run.

// rxMode is how received data reaches the application.
type rxMode uint8

const (
	rxNone    rxMode = iota // plain TCP (tcp_bpf_recvmsg: ingress queue first)
	rxStrp                  // parser + stream_verdict (strparser)
	rxVerdict               // stream_verdict or skb_verdict without parser
)

// rxState is the receive side's per-psock state.
type rxState struct {
	mode rxMode
}

// rxStartFor is called at insertion (under the socket's psockMu) with the
// programs of the map the socket enters, after they were copied into the
// psock: it picks the receive mode like sock_map_link does when the
// socket's data_ready is not already hooked. A non-zero errno fails the
// insertion.
func (p *psock) rxStartFor(mp Progs) syscall.Errno {
	if p.rx.mode != rxNone {
		return 0
	}
	switch {
	case mp.StreamParser != nil && mp.StreamVerdict != nil:
		p.rx.mode = rxStrp
	case mp.StreamParser == nil && mp.StreamVerdict != nil:
		p.rx.mode = rxVerdict
	case mp.StreamVerdict == nil && mp.SkbVerdict != nil:
		p.rx.mode = rxVerdict
	}
	return 0
}

// rxStopFor is called when the socket leaves a map whose current programs
// are mp (sock_map_del_link): a running strparser/verdict hook stops when
// that map has the corresponding program, and the psock's receive slots
// are cleared.
func (p *psock) rxStopFor(mp Progs) {
	if p.rx.mode == rxNone {
		return
	}
	if mp.StreamParser != nil && p.rx.mode == rxStrp {
		p.progs.streamParser.Store(nil)
	}
	if mp.StreamVerdict != nil || mp.SkbVerdict != nil {
		p.progs.streamVerdict.Store(nil)
		p.progs.skbVerdict.Store(nil)
		p.rx.mode = rxNone
	}
}

// rxStop stops the receive side when the psock is dropped.
func (p *psock) rxStop() {
	p.rx.mode = rxNone
}

// purgeIngress discards unread ingress data when the psock is dropped.
// The ingress queue is the connection's (netstack Conn.Inject), which has
// no purge operation yet: unread redirected data stays readable after the
// socket leaves its last map (the kernel discards it).
func (p *psock) purgeIngress() {}
