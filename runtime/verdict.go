package runtime

import "github.com/cilium/ebpf"

// This file applies sk_skb verdicts (sk_psock_verdict_apply): PASS queues
// the bytes on the socket's own ingress queue, REDIRECT hands them to
// another socket's ingress queue or egress, DROP consumes them. It also
// runs the verdict-only mode (stream_verdict without parser, skb_verdict):
// one run per arrival.

// skbVerdictOf turns an sk_skb run into a verdict: SK_PASS with a
// recorded redirect target is REDIRECT, SK_PASS alone PASS, anything else
// (or a stopped program) DROP.
func skbVerdictOf(res skbRunResult) (verdict, *Socket, bool) {
	if res.err != nil || uint32(res.ret) != 1 {
		return verdictDrop, nil, false
	}
	if res.redir != nil {
		return verdictRedirect, res.redir, res.redirIngress
	}
	return verdictPass, nil, false
}

// skbVerdictLabel names a verdict run's outcome for the observer.
func skbVerdictLabel(res skbRunResult) string {
	v, _, _ := skbVerdictOf(res)
	return v.String()
}

// verdictRecv is sk_psock_verdict_recv: the verdict program runs on the
// whole arrival and the skb's length after the run is delivered. b is nil
// for the FIN.
func (p *psock) verdictRecv(b []byte) {
	prog := p.progs.streamVerdict.Load()
	if prog == nil {
		prog = p.progs.skbVerdict.Load()
	}
	if prog == nil {
		p.applyVerdict(verdictPass, nil, false, b)
		return
	}
	after := b
	res := p.sk.rt.runSkbProg(prog, p.sk, b, &after, skbVerdictLabel)
	v, target, ingress := skbVerdictOf(res)
	if b == nil && v == verdictRedirect {
		p.queueRedirectedFIN(target, ingress)
		return
	}
	p.applyVerdict(v, target, ingress, after)
}

// applyVerdict delivers msg according to v.
func (p *psock) applyVerdict(v verdict, target *Socket, ingress bool, msg []byte) {
	switch v {
	case verdictPass:
		// Into the socket's own ingress queue (a dead psock drops it).
		if !p.txEnabled.Load() {
			return
		}
		p.rx.unread += len(msg)
		p.queueOut(p.sk, true, true, msg)
	case verdictRedirect:
		// A verdict-only redirect to the socket's own ingress counts as
		// its own data when read (ingress_ledger.go).
		p.queueOut(target, ingress, target == p.sk && p.rx.mode == rxVerdict, msg)
	default:
		// DROP: the bytes are consumed; nobody sees them.
	}
}

// observeSkb reports an sk_skb run to the runtime's observer.
func (rt *Runtime) observeSkb(prog *Program, sk *Socket, size int, res skbRunResult, v string) {
	o := rt.opts.Observer
	if o == nil {
		return
	}
	ev := RunEvent{
		Program: prog, Socket: sk, Type: ebpf.SkSKB,
		Size: uint32(size), SizeAfter: uint32(size), Return: res.ret, Verdict: v, Err: res.err,
	}
	if v == verdictRedirect.String() {
		ev.Target, ev.Ingress = res.redir, res.redirIngress
	}
	o.ProgramRun(&ev)
}
