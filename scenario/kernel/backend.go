//go:build linux

package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/skmsg/skmsg/scenario"
)

var (
	availOnce sync.Once
	availErr  error
	// A session with sockops programs moves the whole process into a
	// cgroup, which sockets made by concurrent sessions would join: it runs
	// alone. Other sessions (each in its own network namespace) run side
	// by side.
	sessionMu sync.RWMutex
)

// Available says whether this process can run scenarios on the kernel,
// and if not, why (not root, BPF not permitted, no sockmap support).
func Available() error {
	availOnce.Do(func() { availErr = probe() })
	return availErr
}

func probe() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("kernel oracle unavailable: raising RLIMIT_MEMLOCK: %w", err)
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.SockMap, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("kernel oracle unavailable: creating a sockmap: not permitted (needs root or CAP_BPF+CAP_NET_ADMIN): %w", err)
		}
		return fmt.Errorf("kernel oracle unavailable: creating a sockmap: %w", err)
	}
	defer m.Close()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:       ebpf.SkMsg,
		AttachType: ebpf.AttachSkMsgVerdict,
		License:    "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 1),
			asm.Return(),
		},
	})
	if err != nil {
		return fmt.Errorf("kernel oracle unavailable: loading an sk_msg program: %w", err)
	}
	defer p.Close()
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: m.FD(), Program: p, Attach: ebpf.AttachSkMsgVerdict}); err != nil {
		return fmt.Errorf("kernel oracle unavailable: attaching an sk_msg program to a sockmap: %w", err)
	}
	if unix.Geteuid() != 0 {
		return fmt.Errorf("kernel oracle unavailable: network namespaces need root")
	}
	return nil
}

// Backend is the scenario backend of the running kernel.
type Backend struct {
	// TracePipe collects bpf_printk output from the machine-wide
	// trace_pipe into each step's observation (consuming it for everyone).
	TracePipe bool
}

// New returns the kernel backend.
func New() *Backend { return &Backend{} }

// Name implements scenario.Backend.
func (*Backend) Name() string { return "kernel" }

type sock struct {
	fd     int
	closed bool
	listen bool
	refs   sockRefs // psock_backlog.go
}

type session struct {
	env *scenario.Env
	// backlog is set once an sk_skb program is attached: its redirects
	// go through the sockmap's backlog worker (psock_backlog.go).
	backlog bool
	ns      *nsThread
	cg      *sockCgroup
	maps    map[scenario.MapID]*ebpf.Map
	objs    map[*scenario.Object]map[string]*ebpf.Map
	progs   map[scenario.ProgID]*ebpf.Program
	links   map[scenario.ProgID]link.Link
	socks   []*sock
	logs    *tracePipe
	notes   []string // about trace_pipe, since the last Notes
	// readers read the records of ring buffers and perf event arrays.
	readers map[scenario.MapID]eventReader
	locked  bool
	// exclusive: the session holds sessionMu for writing.
	exclusive bool

	dlMu     sync.Mutex
	deadline time.Time // SetDeadline
}

// NewSession implements scenario.Backend: a fresh network namespace and,
// when the scenario has sockops programs, a cgroup of its own.
func (k *Backend) NewSession(env *scenario.Env) (scenario.Session, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	needCgroup := false
	if env.Scenario != nil {
		for _, p := range env.Scenario.Programs {
			needCgroup = needCgroup || p.Attach == ebpf.AttachCGroupSockOps || p.Spec != nil && p.Spec.Type == ebpf.SockOps
		}
	}
	if needCgroup {
		sessionMu.Lock()
	} else {
		sessionMu.RLock()
	}
	s := &session{
		env:    env,
		maps:   map[scenario.MapID]*ebpf.Map{},
		objs:   map[*scenario.Object]map[string]*ebpf.Map{},
		progs:  map[scenario.ProgID]*ebpf.Program{},
		links:  map[scenario.ProgID]link.Link{},
		locked: true,

		exclusive: needCgroup,
	}
	ns, err := newNSThread(env.Addresses)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.ns = ns
	if needCgroup {
		if s.cg, err = enterCgroup(); err != nil {
			s.Close()
			return nil, err
		}
	}
	if k.TracePipe {
		s.logs = openTracePipe()
	}
	return s, nil
}

func (s *session) Close() error {
	var errs []error
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	for _, k := range s.socks {
		if !k.closed {
			k.closed = true
			errs = append(errs, unix.Close(k.fd))
		}
	}
	for _, p := range s.progs {
		errs = append(errs, p.Close())
	}
	errs = append(errs, s.closeEventReaders())
	for _, m := range s.maps {
		errs = append(errs, m.Close())
	}
	if s.ns != nil {
		s.ns.stop()
	}
	if s.cg != nil {
		errs = append(errs, s.cg.release())
	}
	if s.logs != nil {
		s.logs.close()
	}
	if s.locked {
		s.locked = false
		if s.exclusive {
			sessionMu.Unlock()
		} else {
			sessionMu.RUnlock()
		}
	}
	return errors.Join(errs...)
}

func (s *session) CreateMap(def *scenario.MapDef) error {
	m, err := ebpf.NewMap(def.Spec)
	if err != nil {
		return err
	}
	s.maps[def.ID] = m
	return nil
}

func (s *session) LoadObject(obj *scenario.Object) error {
	if s.logs != nil {
		s.logs.addFormats(obj.Spec)
	}
	spec := obj.Spec.Copy()
	spec.Programs = map[string]*ebpf.ProgramSpec{}
	spec.Variables = nil
	repl := map[string]*ebpf.Map{}
	for name, id := range obj.Maps {
		if m := s.maps[id]; m != nil {
			repl[name] = m
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{MapReplacements: repl})
	if err != nil {
		return err
	}
	own := map[string]*ebpf.Map{}
	for name, id := range obj.Maps {
		m := coll.Maps[name]
		if s.maps[id] == nil {
			s.maps[id] = m
			delete(coll.Maps, name)
		}
		own[name] = s.maps[id]
	}
	coll.Close()
	s.objs[obj] = own
	return s.openEventReaders()
}

func (s *session) LoadProgram(p *scenario.Program) error {
	own, ok := s.objs[p.Object]
	if !ok {
		return fmt.Errorf("object %s is not loaded", p.Object.Path)
	}
	spec := p.Object.Spec.Copy()
	spec.Programs = map[string]*ebpf.ProgramSpec{p.Name: p.Spec}
	spec.Variables = nil
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{MapReplacements: own})
	if err != nil {
		return err
	}
	s.progs[p.ID] = coll.DetachProgram(p.Name)
	coll.Close()
	return nil
}

func (s *session) Attach(prog scenario.ProgID, target scenario.MapID, kind ebpf.AttachType) error {
	p := s.progs[prog]
	if p == nil {
		return fmt.Errorf("program %d is not loaded", prog)
	}
	if kind == ebpf.AttachCGroupSockOps {
		if s.cg == nil {
			return fmt.Errorf("sockops attach without a cgroup")
		}
		if _, ok := s.links[prog]; ok {
			return unix.EEXIST
		}
		l, err := link.AttachCgroup(link.CgroupOptions{Path: s.cg.path, Attach: ebpf.AttachCGroupSockOps, Program: p})
		if err != nil {
			return err
		}
		s.links[prog] = l
		return nil
	}
	m := s.maps[target]
	if m == nil {
		return fmt.Errorf("map %d does not exist", target)
	}
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: m.FD(), Program: p, Attach: kind}); err != nil {
		return err
	}
	s.backlog = s.backlog || usesBacklog(kind)
	return nil
}

func (s *session) Detach(prog scenario.ProgID, target scenario.MapID, kind ebpf.AttachType) error {
	p := s.progs[prog]
	if p == nil {
		return fmt.Errorf("program %d is not loaded", prog)
	}
	if kind == ebpf.AttachCGroupSockOps {
		l, ok := s.links[prog]
		if !ok {
			return unix.ENOENT
		}
		delete(s.links, prog)
		return l.Close()
	}
	m := s.maps[target]
	if m == nil {
		return fmt.Errorf("map %d does not exist", target)
	}
	return link.RawDetachProgram(link.RawDetachProgramOptions{Target: m.FD(), Program: p, Attach: kind})
}

func (s *session) fd(id scenario.SocketID) (int, error) {
	if int(id) < 0 || int(id) >= len(s.socks) {
		return -1, fmt.Errorf("no socket %d", id)
	}
	k := s.socks[id]
	if k.closed {
		return -1, unix.EBADF
	}
	return k.fd, nil
}

func (s *session) add(fd int, listen bool) scenario.SocketID {
	s.socks = append(s.socks, &sock{fd: fd, listen: listen, refs: sockRefs{resting: -1}})
	return scenario.SocketID(len(s.socks) - 1)
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() {
		return &unix.SockaddrInet4{Addr: a.Addr().As4(), Port: int(a.Port())}
	}
	return &unix.SockaddrInet6{Addr: a.Addr().As16(), Port: int(a.Port())}
}

func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// A send that cannot complete (full receive buffer, redirect backpressure)
// gives up after this long instead of hanging the run, returning the count
// accepted so far or EAGAIN: the scenario format defines a blocking send
// as a sendmsg with a 2-second send timeout.
var sendTimeout = unix.Timeval{Sec: 2}

func newStream(fam int) (int, error) {
	fd, err := unix.Socket(fam, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &sendTimeout); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (s *session) Listen(addr netip.AddrPort) (id scenario.SocketID, bound netip.AddrPort, err error) {
	err = s.ns.do(func() error {
		fd, err := newStream(family(addr.Addr()))
		if err != nil {
			return err
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err := unix.Bind(fd, sockaddr(addr)); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind %s: %w", addr, err)
		}
		if err := unix.Listen(fd, 128); err != nil {
			unix.Close(fd)
			return err
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			unix.Close(fd)
			return err
		}
		id, bound = s.add(fd, true), addrPort(sa)
		return nil
	})
	return id, bound, err
}

func (s *session) Connect(listener scenario.SocketID, client netip.AddrPort) (cli, srv scenario.SocketID, err error) {
	lfd, err := s.fd(listener)
	if err != nil {
		return 0, 0, err
	}
	err = s.ns.do(func() error {
		lsa, err := unix.Getsockname(lfd)
		if err != nil {
			return err
		}
		to := addrPort(lsa)
		fd, err := newStream(family(to.Addr()))
		if err != nil {
			return err
		}
		if client.IsValid() {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if err := unix.Bind(fd, sockaddr(client)); err != nil {
				unix.Close(fd)
				return fmt.Errorf("bind %s: %w", client, err)
			}
		}
		if err := connectRetrying(fd, sockaddr(to)); err != nil {
			unix.Close(fd)
			return fmt.Errorf("connect %s: %w", to, err)
		}
		// The handshake is complete; the accept queue holds the child.
		pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
		if n, err := unix.Poll(pfd, 2000); err != nil || n == 0 {
			unix.Close(fd)
			return fmt.Errorf("accept: connection did not arrive (%v)", err)
		}
		afd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("accept: %w", err)
		}
		_ = unix.SetsockoptTimeval(afd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &sendTimeout)
		cli, srv = s.add(fd, false), s.add(afd, false)
		return nil
	})
	return cli, srv, err
}

func (s *session) mapOf(id scenario.MapID) (*ebpf.Map, error) {
	m := s.maps[id]
	if m == nil {
		return nil, fmt.Errorf("map %d was not created", id)
	}
	return m, nil
}

func (s *session) MapUpdate(id scenario.MapID, key []byte, val scenario.MapValue, flags ebpf.MapUpdateFlags) error {
	m, err := s.mapOf(id)
	if err != nil {
		return err
	}
	value := val.Bytes
	if val.IsSocket {
		fd, err := s.fd(val.Socket)
		if err != nil {
			return err
		}
		value = make([]byte, m.ValueSize())
		if len(value) == 8 {
			binary.NativeEndian.PutUint64(value, uint64(fd))
		} else {
			binary.NativeEndian.PutUint32(value, uint32(fd))
		}
	}
	pv, err := perCPUValue(m, value)
	if err != nil {
		return err
	}
	if err := m.Update(key, pv, flags); err != nil {
		return err
	}
	if val.IsSocket {
		// In a sockmap now: its psock holds a reference from here on.
		s.socks[val.Socket].refs.resting = -1
	}
	return nil
}

func (s *session) MapLookup(id scenario.MapID, key []byte) ([]byte, error) {
	m, err := s.mapOf(id)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, m.ValueSize())
	if err := m.Lookup(key, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func (s *session) MapDelete(id scenario.MapID, key []byte) error {
	m, err := s.mapOf(id)
	if err != nil {
		return err
	}
	return m.Delete(key)
}

// MapEntries walks the map with get_next_key (scenario.WalkMap).
func (s *session) MapEntries(id scenario.MapID) ([]scenario.MapEntry, error) {
	m, err := s.mapOf(id)
	if err != nil {
		return nil, err
	}
	next := func(prev []byte) ([]byte, error) {
		if prev == nil {
			return m.NextKeyBytes(nil)
		}
		return m.NextKeyBytes(prev)
	}
	lookup := func(key []byte) ([]byte, error) {
		switch m.Type() {
		case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
			// Every CPU's value, each padded to 8 bytes, as user space
			// reads them.
			v, err := m.LookupBytes(key)
			if err == nil && v == nil {
				return nil, unix.ENOENT // deleted meanwhile
			}
			return v, err
		}
		v := make([]byte, m.ValueSize())
		return v, m.Lookup(key, v)
	}
	return scenario.WalkMap(m.String(), m.MaxEntries(), next, lookup)
}

func (s *session) Cookie(id scenario.SocketID) (uint64, error) {
	fd, err := s.fd(id)
	if err != nil {
		return 0, err
	}
	return unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE)
}

func (s *session) Send(id scenario.SocketID, iov [][]byte, flags int) (int, error) {
	fd, err := s.fd(id)
	if err != nil {
		return 0, err
	}
	for {
		n, err := unix.SendmsgBuffers(fd, iov, nil, nil, flags|unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

func (s *session) Recv(id scenario.SocketID, max int, peek bool) ([]byte, bool, error) {
	fd, err := s.fd(id)
	if err != nil {
		return nil, false, err
	}
	flags := unix.MSG_DONTWAIT
	if peek {
		flags |= unix.MSG_PEEK
	}
	return scenario.RecvQueued(func(b []byte) (int, error) {
		for {
			n, _, err := unix.Recvfrom(fd, b, flags)
			if err != unix.EINTR {
				return n, err
			}
		}
	}, max, peek)
}

func (s *session) Fionread(id scenario.SocketID) (int, error) {
	fd, err := s.fd(id)
	if err != nil {
		return 0, err
	}
	return unix.IoctlGetInt(fd, unix.SIOCINQ)
}

func (s *session) Shutdown(id scenario.SocketID, how int) error {
	fd, err := s.fd(id)
	if err != nil {
		return err
	}
	return unix.Shutdown(fd, how)
}

var sockopts = map[string][2]int{
	"SO_RCVBUF":    {unix.SOL_SOCKET, unix.SO_RCVBUF},
	"SO_SNDBUF":    {unix.SOL_SOCKET, unix.SO_SNDBUF},
	"SO_RCVLOWAT":  {unix.SOL_SOCKET, unix.SO_RCVLOWAT},
	"SO_SNDLOWAT":  {unix.SOL_SOCKET, unix.SO_SNDLOWAT},
	"SO_KEEPALIVE": {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
	"TCP_NODELAY":  {unix.IPPROTO_TCP, unix.TCP_NODELAY},
}

func (s *session) SetSockopt(id scenario.SocketID, name string, value int) error {
	fd, err := s.fd(id)
	if err != nil {
		return err
	}
	o, ok := sockopts[name]
	if !ok {
		return fmt.Errorf("unknown socket option %s", name)
	}
	return unix.SetsockoptInt(fd, o[0], o[1], value)
}

func (s *session) CloseSocket(id scenario.SocketID) error {
	fd, err := s.fd(id)
	if err != nil {
		return err
	}
	s.socks[id].closed = true
	return unix.Close(fd)
}

// ApproximateIdle implements scenario.ApproximateIdle.
func (s *session) ApproximateIdle() {}

func (s *session) Logs() []string {
	if s.logs == nil {
		return nil
	}
	out, notes := s.logs.drain()
	s.notes = append(s.notes, notes...)
	return out
}

// Notes implements scenario.Noter: what the last Logs calls had to say
// about trace_pipe (other programs' lines left out, another reader).
func (s *session) Notes() []string {
	n := s.notes
	s.notes = nil
	return n
}

// WaitIdle polls every open socket's queues and TCP counters until they
// have not changed for a quiet period and no socket holds more references
// than at rest (a redirect queued for the sockmap's backlog worker holds
// some: psock_backlog.go). It gives up quietly at the deadline (a full
// receive buffer is a steady state too).
func (s *session) WaitIdle() error {
	const (
		interval = 2 * time.Millisecond
		quiet    = 30 * time.Millisecond // several ticks at HZ=250: backlog retries are tick-paced
	)
	deadline := time.Now().Add(s.env.IdleTimeout)
	if d := s.getDeadline(); !d.IsZero() && d.Before(deadline) {
		deadline = d
	}
	last := s.snapshot()
	stableSince := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(interval)
		cur := s.snapshot()
		if cur != last {
			last, stableSince = cur, time.Now()
			continue
		}
		if time.Since(stableSince) >= quiet {
			if !s.backlog {
				return nil
			}
			if busy, err := s.refsAtRest(time.Now()); err != nil || busy == "" {
				return nil
			}
		}
	}
	return nil
}

// snapshot is a digest of every open socket's observable queue state.
func (s *session) snapshot() string {
	var b []byte
	for _, k := range s.socks {
		if k.closed || k.listen {
			continue
		}
		inq, _ := unix.IoctlGetInt(k.fd, unix.SIOCINQ)
		outq, _ := unix.IoctlGetInt(k.fd, unix.SIOCOUTQ)
		pfd := []unix.PollFd{{Fd: int32(k.fd), Events: unix.POLLIN | unix.POLLOUT | unix.POLLRDHUP}}
		_, _ = unix.Poll(pfd, 0)
		var rx, acked uint64
		var state uint8
		if ti, err := unix.GetsockoptTCPInfo(k.fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			rx, acked, state = ti.Bytes_received, ti.Bytes_acked, ti.State
		}
		b = fmt.Appendf(b, "%d:%d:%d:%d:%d:%d:%d;", k.fd, inq, outq, pfd[0].Revents, rx, acked, state)
	}
	return string(b)
}
