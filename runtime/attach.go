package runtime

import (
	"fmt"
	"syscall"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/loader"

	"github.com/skmsg/skmsg/runtime/bpf"
)

// AttachError is the error of an attach, detach or link operation: what
// was attempted and the errno the kernel returns.
type AttachError struct {
	Op      string
	Program string
	Map     string
	Attach  ebpf.AttachType
	Errno   syscall.Errno
	Detail  string
}

func (e *AttachError) Error() string {
	s := fmt.Sprintf("%s %s to map %s as %s: %s", e.Op, e.Program, e.Map, e.Attach, e.Errno.Error())
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *AttachError) Unwrap() error { return e.Errno }

func slotIndex(a ebpf.AttachType) int {
	switch a {
	case ebpf.AttachSkMsgVerdict:
		return 0
	case ebpf.AttachSkSKBStreamParser:
		return 1
	case ebpf.AttachSkSKBStreamVerdict:
		return 2
	case ebpf.AttachSkSKBVerdict:
		return 3
	}
	return -1
}

// progLinkLookup is sock_map_prog_link_lookup: the slot for attach type
// a, with the stream_verdict / skb_verdict exclusion. Called with progMu.
func (m *SockMap) progLinkLookup(a ebpf.AttachType) (int, syscall.Errno) {
	switch a {
	case ebpf.AttachSkMsgVerdict, ebpf.AttachSkSKBStreamParser:
	case ebpf.AttachSkSKBStreamVerdict:
		if m.progs.skbVerdict.Load() != nil {
			return -1, errno.EBUSY
		}
	case ebpf.AttachSkSKBVerdict:
		if m.progs.streamVerdict.Load() != nil {
			return -1, errno.EBUSY
		}
	default:
		return -1, errno.EOPNOTSUPP
	}
	return slotIndex(a), 0
}

// progUpdate is sock_map_prog_update: set (old == nil) or replace/remove
// (old != nil) the program of a slot, honouring link ownership.
func (m *SockMap) progUpdate(prog, old *Program, l *Link, a ebpf.AttachType) syscall.Errno {
	idx, e := m.progLinkLookup(a)
	if e != 0 {
		return e
	}
	if (l == nil || prog != nil) && m.links[idx] != nil {
		return errno.EBUSY
	}
	slot := m.progs.slot(a)
	if old != nil {
		if slot.Load() != old {
			return errno.ENOENT
		}
		slot.Store(prog)
		m.links[idx] = nil
		return 0
	}
	slot.Store(prog)
	if l != nil {
		m.links[idx] = l
	}
	return 0
}

func checkProgType(p *Program, a ebpf.AttachType) syscall.Errno {
	want := loader.AttachProgramType(a)
	if want == 0 || want == ebpf.SockOps {
		return errno.EINVAL
	}
	if p.Type != want {
		return errno.EINVAL
	}
	return 0
}

// sockMapTarget returns target as a socket map, or fails the way the
// kernel does for another map type.
func sockMapTarget(op string, prog *Program, target bpf.Map, a ebpf.AttachType, e syscall.Errno) (*SockMap, error) {
	if m, ok := target.(*SockMap); ok {
		return m, nil
	}
	name := "<nil>"
	if target != nil {
		name = target.Name()
	}
	return nil, &AttachError{Op: op, Program: prog.Name, Map: name, Attach: a, Errno: e, Detail: "not a sockmap or sockhash"}
}

// Attach attaches prog to map target's slot for a (BPF_PROG_ATTACH). The
// slot is silently replaced when it holds another program. Sockets already
// in the map keep the programs they inherited. A map that is not a sockmap
// or sockhash gives EOPNOTSUPP.
func (rt *Runtime) Attach(prog *Program, target bpf.Map, a ebpf.AttachType) error {
	m, err := sockMapTarget("attach", prog, target, a, errno.EOPNOTSUPP)
	if err != nil {
		return err
	}
	fail := func(e syscall.Errno, why string) error {
		return &AttachError{Op: "attach", Program: prog.Name, Map: m.spec.Name, Attach: a, Errno: e, Detail: why}
	}
	if e := checkProgType(prog, a); e != 0 {
		return fail(e, fmt.Sprintf("a %s program cannot attach as %s", prog.Type, a))
	}
	if rt.parserRefused(prog, a) {
		return fail(errno.EINVAL, "a stream parser may not change packet data")
	}
	m.progMu.Lock()
	defer m.progMu.Unlock()
	if e := m.progUpdate(prog, nil, nil, a); e != 0 {
		return fail(e, "")
	}
	return nil
}

// Detach removes prog from m's slot for a (BPF_PROG_DETACH): ENOENT when
// the slot holds another program, EBUSY when a link owns it.
func (rt *Runtime) Detach(prog *Program, target bpf.Map, a ebpf.AttachType) error {
	m, err := sockMapTarget("detach", prog, target, a, errno.EOPNOTSUPP)
	if err != nil {
		return err
	}
	fail := func(e syscall.Errno, why string) error {
		return &AttachError{Op: "detach", Program: prog.Name, Map: m.spec.Name, Attach: a, Errno: e, Detail: why}
	}
	if e := checkProgType(prog, a); e != 0 {
		return fail(e, fmt.Sprintf("a %s program cannot attach as %s", prog.Type, a))
	}
	m.progMu.Lock()
	defer m.progMu.Unlock()
	if e := m.progUpdate(nil, prog, nil, a); e != 0 {
		return fail(e, "")
	}
	return nil
}

// Query returns the program in m's slot for a (BPF_PROG_QUERY), or nil.
func (m *SockMap) Query(a ebpf.AttachType) (*Program, error) {
	s := m.progs.slot(a)
	if s == nil {
		return nil, &AttachError{Op: "query", Map: m.spec.Name, Attach: a, Errno: errno.EOPNOTSUPP}
	}
	return s.Load(), nil
}

// Link is a sockmap bpf_link (BPF_LINK_TYPE_SOCKMAP): it owns a map slot
// until it is closed.
type Link struct {
	m      *SockMap
	a      ebpf.AttachType
	prog   *Program
	closed bool
}

// AttachLink creates a sockmap link (BPF_LINK_CREATE): EBUSY when a link
// already owns the slot; a program attached without a link is replaced.
func (rt *Runtime) AttachLink(prog *Program, target bpf.Map, a ebpf.AttachType) (*Link, error) {
	m, err := sockMapTarget("link", prog, target, a, errno.EINVAL)
	if err != nil {
		return nil, err
	}
	fail := func(e syscall.Errno, why string) error {
		return &AttachError{Op: "link", Program: prog.Name, Map: m.spec.Name, Attach: a, Errno: e, Detail: why}
	}
	if e := checkProgType(prog, a); e != 0 {
		return nil, fail(e, fmt.Sprintf("a %s program cannot attach as %s", prog.Type, a))
	}
	if rt.parserRefused(prog, a) {
		return nil, fail(errno.EINVAL, "a stream parser may not change packet data")
	}
	l := &Link{m: m, a: a, prog: prog}
	m.progMu.Lock()
	defer m.progMu.Unlock()
	if e := m.progUpdate(prog, nil, l, a); e != 0 {
		return nil, fail(e, "")
	}
	return l, nil
}

// Program is the link's current program.
func (l *Link) Program() *Program {
	l.m.progMu.Lock()
	defer l.m.progMu.Unlock()
	return l.prog
}

// Update replaces the link's program (BPF_LINK_UPDATE): EPERM when old is
// given and is not the link's program, EINVAL for another program type or
// expected attach type, ENOLINK once the map is released, EBUSY when the
// link no longer owns the slot.
func (l *Link) Update(prog, old *Program) error {
	m := l.m
	fail := func(e syscall.Errno) error {
		return &AttachError{Op: "link update", Program: prog.Name, Map: m.spec.Name, Attach: l.a, Errno: e}
	}
	m.progMu.Lock()
	defer m.progMu.Unlock()
	if old != nil && l.prog != old {
		return fail(errno.EPERM)
	}
	if l.prog != nil && (prog.Type != l.prog.Type || prog.ExpectedAttach != l.prog.ExpectedAttach) {
		return fail(errno.EINVAL)
	}
	if m.released || l.closed {
		return fail(errno.ENOLINK)
	}
	if prog.coll != nil && prog.coll.rt.parserRefused(prog, l.a) {
		return fail(errno.EINVAL)
	}
	idx, e := m.progLinkLookup(l.a)
	if e != 0 {
		return fail(e)
	}
	if m.links[idx] != l {
		return fail(errno.EBUSY)
	}
	m.progs.slot(l.a).Store(prog)
	l.prog = prog
	return nil
}

// Close detaches the link, emptying its slot.
func (l *Link) Close() error {
	m := l.m
	m.progMu.Lock()
	defer m.progMu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	idx := slotIndex(l.a)
	if m.links[idx] == l {
		m.progs.slot(l.a).Store(nil)
		m.links[idx] = nil
	}
	return nil
}
