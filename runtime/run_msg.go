package runtime

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/vm"
)

// This file runs sk_msg programs: the context (struct sk_msg_md with
// ctx->sk pointing at a struct bpf_sock), data/data_end over the current
// scatterlist element, and the sk_msg helpers.

// runState is the per-machine state of a run, reachable from helpers via
// Machine.User.
type runState struct {
	rt       *Runtime
	coll     *Collection // whose pool the machine belongs to
	ctx      [skMsgMdSize]byte
	sock     [bpfSockSize]byte
	ctxAddr  uint64
	sockAddr uint64
	msg      *Msg
	sk       *Socket
	// skb is the receive side's per-run state (sk_skb programs).
	skb any
	// kobjs are the kernel objects helpers made in this run
	// (kernel_objects.go).
	kobjs []kobj
}

func newRunState(c *Collection) func(m *vm.Machine) {
	return func(m *vm.Machine) {
		m.User = &runState{rt: c.rt, coll: c}
		if cv := c.rt.opts.Coverage; cv != nil {
			m.SetCoverage(cv)
		}
	}
}

// setData points data/data_end at the message's current data range and
// refreshes size (sk_msg_compute_data_pointers and the live size field).
func (st *runState) setData(mach *vm.Machine) {
	m := st.msg
	var data, end uint64
	if m.dataElem < m.n {
		e := &m.sg[m.dataElem]
		base := mach.AddRegion(vm.Region{Name: "packet", Data: e.pg.b[e.offset : e.offset+e.length], Perm: vm.PermRW})
		data = base + uint64(m.dataLo)
		end = base + uint64(m.dataHi)
	}
	binary.LittleEndian.PutUint64(st.ctx[skMsgOffData:], data)
	binary.LittleEndian.PutUint64(st.ctx[skMsgOffDataEnd:], end)
	binary.LittleEndian.PutUint32(st.ctx[skMsgOffSize:], m.size)
}

// msgVerdict is sk_psock_msg_verdict: run the psock's msg program on m
// and turn its result into a verdict, recording apply_bytes and the
// redirect target in the psock.
func (rt *Runtime) msgVerdict(sk *Socket, p *psock, m *Msg) verdict {
	prog := p.progs.msg.Load()
	if prog == nil {
		return verdictPass
	}
	m.computeDataPointers()
	// The redirect target is this run's choice: a run on the remainder of
	// an apply_bytes split that returns SK_PASS passes, even though the
	// run before redirected the same message (recorded on 6.18).
	m.SkRedir = nil
	sizeBefore := m.size
	rt.runMu.Lock()
	defer rt.runMu.Unlock()
	ret, err := rt.runMsgProg(prog, sk, m)
	v := verdictDrop
	if err == nil && uint32(ret) == 1 {
		v = verdictPass
		if m.SkRedir != nil {
			v = verdictRedirect
		}
	}
	p.applyBytes = m.ApplyBytes
	if v == verdictRedirect {
		p.skRedir = m.SkRedir
		p.redirIngress = m.Flags&flagIngress != 0
	}
	if o := rt.opts.Observer; o != nil {
		ev := RunEvent{
			Program: prog, Socket: sk, Type: ebpf.SkMsg,
			Size: sizeBefore, SizeAfter: m.size, Return: ret, Verdict: v.String(),
			ApplyBytes: m.ApplyBytes, CorkBytes: m.CorkBytes, Err: err,
		}
		if v == verdictRedirect {
			ev.Target, ev.Ingress = m.SkRedir, p.redirIngress
		}
		o.ProgramRun(&ev)
	}
	return v
}

// runMsgProg runs prog with m as its sk_msg_md context. The caller holds
// rt.runMu.
func (rt *Runtime) runMsgProg(prog *Program, sk *Socket, m *Msg) (uint64, error) {
	mp := &prog.coll.pool
	mach := mp.get()
	st := mach.User.(*runState)
	st.msg, st.sk = m, sk
	st.ctx = sk.msgMd
	st.sock = sk.bpfSock
	binary.LittleEndian.PutUint32(st.sock[bpfSockOffState:], uint32(sk.State()))
	st.ctxAddr = mach.AddRegion(vm.Region{Name: "sk_msg_md", Data: st.ctx[:], Perm: vm.PermRead})
	st.sockAddr = mach.AddRegion(vm.Region{Name: "bpf_sock", Data: st.sock[:], Perm: vm.PermRead})
	binary.LittleEndian.PutUint64(st.ctx[skMsgOffSk:], st.sockAddr)
	st.setData(mach)
	if rt.opts.Tracer != nil {
		mach.SetTracer(rt.opts.Tracer)
	}
	ret, err := mach.Run(prog.VM, st.ctxAddr)
	st.msg, st.sk = nil, nil
	mp.put(mach)
	return ret, err
}

const flagIngress = 1 // BPF_F_INGRESS

func (st *runState) checkCtx(r1 uint64, helper string) error {
	if r1 != st.ctxAddr || st.msg == nil {
		return fmt.Errorf("%s: argument 1 (%#x) is not the program's sk_msg context", helper, r1)
	}
	return nil
}

func (rt *Runtime) sockMapArg(h uint64, helper string, wantHash bool) (*SockMap, error) {
	raw, ok := rt.registry.Map(h)
	if !ok {
		return nil, fmt.Errorf("%s: argument 2 (%#x) is not a map", helper, h)
	}
	sm, ok := raw.(*SockMap)
	if !ok || sm.hash != wantHash {
		want := "sockmap"
		if wantHash {
			want = "sockhash"
		}
		return nil, fmt.Errorf("%s: map %s is a %s, the helper needs a %s", helper, raw.Name(), raw.Type(), want)
	}
	return sm, nil
}

// redirectAllowed is sock_map_redirect_allowed for TCP: not a listener.
func redirectAllowed(sk *Socket) bool {
	return sk.State() != StateListen
}

// redirectTarget resolves the target of the *_redirect_map and
// *_redirect_hash helpers of sk_msg and sk_skb (r2 the map, r3 the index or
// a pointer to the key, r4 the flags). A nil socket means the helper
// returns SK_DROP: flags other than BPF_F_INGRESS, no entry, or a
// listening target.
func (rt *Runtime) redirectTarget(m *vm.Machine, helper string, r2, r3, r4 uint64, hash bool) (*Socket, error) {
	sm, err := rt.sockMapArg(r2, helper, hash)
	if err != nil {
		return nil, err
	}
	var sk *Socket
	if hash {
		key, err := m.Bytes(r3, int(sm.spec.KeySize), vm.PermRead)
		if err != nil {
			return nil, fmt.Errorf("%s: key: %w", helper, err)
		}
		if r4&^flagIngress != 0 {
			return nil, nil
		}
		sk = sm.lookupSock(key)
	} else {
		if r4&^flagIngress != 0 {
			return nil, nil
		}
		sk = sm.lookupIndex(uint32(r3))
	}
	if sk == nil || !redirectAllowed(sk) {
		return nil, nil
	}
	return sk, nil
}

// skMsgHelpers returns the helpers specific to SK_MSG (sk_msg_func_proto).
func skMsgHelpers(rt *Runtime) vm.Helpers {
	h := vm.Helpers{}
	add := func(id asm.BuiltinFunc, name string, fn vm.HelperFunc) {
		h[id] = vm.Helper{ID: id, Name: name, Fn: fn}
	}
	msgRedirect := func(name string, hash bool) vm.HelperFunc {
		return func(m *vm.Machine, r1, r2, r3, r4, _ uint64) (uint64, error) {
			st := m.User.(*runState)
			if err := st.checkCtx(r1, name); err != nil {
				return 0, err
			}
			sk, err := rt.redirectTarget(m, name, r2, r3, r4, hash)
			if sk == nil || err != nil {
				return 0, err // SK_DROP, or a fault
			}
			st.msg.Flags = r4
			st.msg.SkRedir = sk
			return 1, nil // SK_PASS
		}
	}
	add(asm.FnMsgRedirectMap, "msg_redirect_map", msgRedirect("msg_redirect_map", false))
	add(asm.FnMsgRedirectHash, "msg_redirect_hash", msgRedirect("msg_redirect_hash", true))
	add(asm.FnMsgApplyBytes, "msg_apply_bytes", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		st := m.User.(*runState)
		if err := st.checkCtx(r1, "msg_apply_bytes"); err != nil {
			return 0, err
		}
		st.msg.ApplyBytes = uint32(r2)
		return 0, nil
	})
	add(asm.FnMsgCorkBytes, "msg_cork_bytes", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		st := m.User.(*runState)
		if err := st.checkCtx(r1, "msg_cork_bytes"); err != nil {
			return 0, err
		}
		st.msg.CorkBytes = uint32(r2)
		return 0, nil
	})
	add(asm.FnMsgPullData, "msg_pull_data", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		st := m.User.(*runState)
		if err := st.checkCtx(r1, "msg_pull_data"); err != nil {
			return 0, err
		}
		ret := st.msg.Pull(uint32(r2), uint32(r3), r4)
		if ret == 0 {
			st.setData(m)
		}
		return uint64(ret), nil
	})
	add(asm.FnMsgPushData, "msg_push_data", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		st := m.User.(*runState)
		if err := st.checkCtx(r1, "msg_push_data"); err != nil {
			return 0, err
		}
		ret := st.msg.Push(uint32(r2), uint32(r3), r4)
		if ret == 0 {
			st.setData(m)
		}
		return uint64(ret), nil
	})
	add(asm.FnMsgPopData, "msg_pop_data", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		st := m.User.(*runState)
		if err := st.checkCtx(r1, "msg_pop_data"); err != nil {
			return 0, err
		}
		ret := st.msg.Pop(uint32(r2), uint32(r3), r4)
		if ret == 0 {
			st.setData(m)
		}
		return uint64(ret), nil
	})
	add(asm.FnGetNetnsCookie, "get_netns_cookie", func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
		return netnsCookie, nil
	})
	return h
}

// netnsCookie is the cookie of the runtime's single network namespace
// (the init namespace's cookie is 1).
const netnsCookie = 1

// RunEvent describes one program run, for observers.
type RunEvent struct {
	Program *Program
	Socket  *Socket // the socket the program ran for
	Type    ebpf.ProgramType
	// Size and SizeAfter are the message bytes before and after the run
	// (push/pop change them).
	Size, SizeAfter uint32
	Return          uint64
	// Verdict is "pass", "drop" or "redirect".
	Verdict string
	// Target and Ingress describe a redirect.
	Target  *Socket
	Ingress bool
	// ApplyBytes and CorkBytes are what the message carries after the run.
	ApplyBytes, CorkBytes uint32
	// Err is a run-time stop of the program (fault, budget); the verdict
	// is then drop.
	Err error
}

// Observer sees program runs. ProgramRun is called synchronously on the
// path that ran the program; the event is only valid during the call.
type Observer interface {
	ProgramRun(ev *RunEvent)
}

// socketArg resolves a socket pointer a program passes to a helper
// (sk_storage_*) to the socket's identity, its cookie.
func socketArg(m *vm.Machine, sk uint64) (uint64, bool) {
	st, ok := m.User.(*runState)
	if !ok || st.sk == nil || sk == 0 || sk != st.sockAddr {
		return 0, false
	}
	return st.sk.Cookie(), true
}
