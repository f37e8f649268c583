package runtime

import (
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
)

// verdict is the kernel's internal verdict (__SK_DROP, __SK_PASS,
// __SK_REDIRECT, __SK_NONE).
type verdict uint8

const (
	verdictDrop     verdict = 0
	verdictPass     verdict = 1
	verdictRedirect verdict = 2
	verdictNone     verdict = 3
)

func (v verdict) String() string {
	switch v {
	case verdictDrop:
		return "drop"
	case verdictPass:
		return "pass"
	case verdictRedirect:
		return "redirect"
	}
	return "none"
}

// progSlots are the four programs a psock (or a map) holds.
type progSlots struct {
	msg           atomic.Pointer[Program] // msg_parser ← BPF_SK_MSG_VERDICT
	streamParser  atomic.Pointer[Program] // ← BPF_SK_SKB_STREAM_PARSER
	streamVerdict atomic.Pointer[Program] // ← BPF_SK_SKB_STREAM_VERDICT
	skbVerdict    atomic.Pointer[Program] // ← BPF_SK_SKB_VERDICT
}

func (s *progSlots) slot(a ebpf.AttachType) *atomic.Pointer[Program] {
	switch a {
	case ebpf.AttachSkMsgVerdict:
		return &s.msg
	case ebpf.AttachSkSKBStreamParser:
		return &s.streamParser
	case ebpf.AttachSkSKBStreamVerdict:
		return &s.streamVerdict
	case ebpf.AttachSkSKBVerdict:
		return &s.skbVerdict
	}
	return nil
}

// link records one map entry holding the socket (struct sk_psock_link):
// raw identifies the entry (a sockmap index, or a sockhash element).
type link struct {
	m   *SockMap
	raw any
}

// psock is the per-socket state (struct sk_psock), created on the first
// insertion into a sockmap or sockhash and dropped when the socket leaves
// its last map (or closes).
//
// Locking: links and refs are guarded by mu (psock->link_lock); the send
// state (eval … redirIngress, cork) by the socket's send lock sk.mu; the
// program slots are atomics written at insertion; rx is the receive side's
// own state (see psock_rx.go).
type psock struct {
	sk *Socket

	mu    sync.Mutex
	links []link
	refs  int

	progs progSlots

	// Send side (tcp_bpf_sendmsg), under sk.mu.
	eval         verdict
	applyBytes   uint32
	corkBytes    uint32
	cork         *Msg
	skRedir      *Socket
	redirIngress bool

	// txEnabled is cleared when the psock is being torn down: redirects
	// to it are then dropped silently.
	txEnabled atomic.Bool
	dead      atomic.Bool

	// Receive mode chosen at insertion, and the receive side's state.
	rx rxState
}

func newPsock(sk *Socket) *psock {
	p := &psock{sk: sk, eval: verdictNone, refs: 1}
	p.txEnabled.Store(true)
	return p
}

// Progs is a snapshot of the programs a socket's psock holds.
type Progs struct {
	Msg, StreamParser, StreamVerdict, SkbVerdict *Program
}

func (p *psock) snapshot() Progs {
	return Progs{
		Msg:           p.progs.msg.Load(),
		StreamParser:  p.progs.streamParser.Load(),
		StreamVerdict: p.progs.streamVerdict.Load(),
		SkbVerdict:    p.progs.skbVerdict.Load(),
	}
}

// delLink removes the link for (m, raw) and stops the receive programs of
// that map if they are running (sock_map_del_link).
func (p *psock) delLink(m *SockMap, raw any) {
	p.mu.Lock()
	found := false
	for i, l := range p.links {
		if l.m == m && l.raw == raw {
			p.links = append(p.links[:i], p.links[i+1:]...)
			found = true
			break
		}
	}
	p.mu.Unlock()
	if !found {
		return
	}
	mp := m.currentProgs()
	p.rxStopFor(mp)
}

// get takes a reference if the psock is still alive.
func (p *psock) get() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refs == 0 {
		return false
	}
	p.refs++
	return true
}

// put drops a reference; the last one tears the psock down.
func (p *psock) put() {
	p.mu.Lock()
	p.refs--
	last := p.refs == 0
	p.mu.Unlock()
	if last {
		p.drop()
	}
}

// drop is sk_psock_drop: detach from the socket, disable TX, free a held
// cork message and purge the queues.
func (p *psock) drop() {
	if p.dead.Swap(true) {
		return
	}
	p.txEnabled.Store(false)
	sk := p.sk
	sk.psock.CompareAndSwap(p, nil)
	p.rxStop()
	sk.mu.Lock()
	if p.cork != nil {
		p.cork.release()
		p.cork = nil
	}
	p.skRedir = nil
	sk.mu.Unlock()
	sk.updateProto()
	p.purgeIngress()
	sk.purgeIngress()
	// Deliveries held for this socket are dropped now.
	sk.roomChanged()
}
