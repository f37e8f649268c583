package emulated

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/cover"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/netstack"
	"github.com/skmsg/skmsg/runtime"
	"github.com/skmsg/skmsg/runtime/bpf"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/vm"
)

// Backend is the scenario backend of skmsg's own runtime: objects loaded by
// the loader, programs run on the interpreter, sockets in the user-space
// network. It needs no privilege. The zero value is ready to use; a
// backend value may run several scenarios one after the other, and
// separate values run in parallel.
type Backend struct {
	// Network configures the virtual network of each session; the zero
	// value is loopback-like (MTU 65535, so a write below 64 KiB is one
	// segment as on lo). Seed is taken from the scenario.
	Network netstack.Options
	// Pcap, when set, receives the traffic of each session on the link as
	// a pcap stream (Ethernet frames, timestamps from the network's
	// virtual clock so the same scenario gives the same file).
	Pcap io.Writer
	// Trace, when true, records every instruction of every program run
	// with its source line, changed registers, memory writes and helper
	// calls (see Runs).
	Trace bool
	// RecordRuns, when true, records each program run with its verdict
	// but without instructions (Trace implies it). Without either, the
	// runtime runs with no observer at all.
	RecordRuns bool
	// Kernel selects which kernel build to emulate where builds differ
	// (the zero value is the current one); a comparison with the running
	// kernel passes what internal/kernelbuild probed.
	Kernel runtime.KernelBuild
	// Debug, when set, traces every program run (it replaces Trace),
	// learns each program as it is loaded, and measures the session's
	// waits (for idle, for a handshake) with its WithTimeout: a debugger
	// holding a program stopped must not make them time out.
	Debug Debugger
	// Coverage, when set, records which instructions and branch
	// directions of every loaded program ran, across all sessions of the
	// backend (and of other backends given the same recorder). Without it
	// the interpreter runs its fast loop.
	Coverage *cover.Recorder
	// NoVerify loads programs without the static verifier (runtime
	// Options.NoVerify): a program the kernel would refuse then runs.
	NoVerify bool

	last *skmsgSession
}

// Debugger is what the backend needs of a debugger
// (github.com/skmsg/skmsg/debugger's Engine).
type Debugger interface {
	vm.Tracer
	AddProgram(p *vm.Program)
	// WithTimeout and Now are the debugger's clock, which stands still
	// while it holds a program or the scenario stopped: the session's
	// waits and deadlines run on it (and the runner's, through
	// scenario.Options.Now).
	WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc)
	Now() time.Time
}

// Name implements Backend.
func (*Backend) Name() string { return "skmsg" }

// Runs returns, for the most recent session run with Trace or RecordRuns,
// the program runs of each recorded step, indexed like Result.Steps:
// Runs()[i] are the runs that happened while step i was executed (and
// while the pipeline went idle after it).
func (b *Backend) Runs() [][]*ProgramRun {
	if b.last == nil {
		return nil
	}
	return b.last.tracer.steps
}

// NewSession implements Backend.
func (b *Backend) NewSession(env *scenario.Env) (scenario.Session, error) {
	nopts := b.Network
	if nopts.MTU == 0 {
		nopts.MTU = 65535
	}
	nopts.Seed = int64(env.Seed)
	// Checksums cost time on bulk transfers; only a capture shows them.
	nopts.ChecksumOffload = b.Pcap == nil
	s := &skmsgSession{
		env:     env,
		maps:    map[scenario.MapID]bpf.Map{},
		colls:   map[*scenario.Object]*runtime.Collection{},
		progs:   map[scenario.ProgID]*runtime.Program{},
		foreign: map[scenario.ProgID]bool{},
		names:   newSocketNames(env.Scenario),
		tracer:  newRunTracer(b.Trace),
	}
	s.tracer.names = s.names
	opts := runtime.Options{Network: nopts, Seed: int64(env.Seed), Printk: s.printk, Kernel: b.Kernel, NumCPU: env.CPUs, NoVerify: b.NoVerify}
	if b.Trace || b.RecordRuns {
		opts.Observer = s.tracer
	}
	if b.Trace {
		opts.Tracer = s.tracer
	}
	s.timeout, s.now = context.WithTimeout, time.Now
	if b.Debug != nil {
		opts.Tracer = b.Debug
		s.debug = b.Debug
		s.timeout, s.now = b.Debug.WithTimeout, b.Debug.Now
	}
	if b.Coverage != nil {
		opts.Coverage = b.Coverage
		s.cover = b.Coverage
	}
	s.rt = runtime.New(opts)
	if b.Pcap != nil {
		c, err := s.rt.Net().Netstack().Capture(b.Pcap, netstack.CaptureOptions{})
		if err != nil {
			s.rt.Close()
			return nil, fmt.Errorf("starting the capture: %w", err)
		}
		s.capture = c
	}
	b.last = s
	return s, nil
}

// ErrNotSupported marks what a scenario asks of skmsg that its runtime
// cannot do yet. Such an operation fails its step with an error wrapping
// it (not an errno), so the step fails whatever it expected. It is the
// same value as loader.ErrNotSupported.
var ErrNotSupported = loader.ErrNotSupported

type skmsgSocket struct {
	s      *runtime.Socket
	l      *runtime.Listener
	closed bool
}

type skmsgSession struct {
	env     *scenario.Env
	rt      *runtime.Runtime
	capture *netstack.Capture
	maps    map[scenario.MapID]bpf.Map
	colls   map[*scenario.Object]*runtime.Collection
	progs   map[scenario.ProgID]*runtime.Program
	// foreign are loaded programs of a type skmsg does not run.
	foreign map[scenario.ProgID]bool
	socks   []*skmsgSocket
	names   *socketNames
	tracer  *runTracer
	debug   Debugger
	// timeout makes the contexts of the session's waits: a debugger's,
	// which stops counting while a program is held, or context's.
	timeout func(context.Context, time.Duration) (context.Context, context.CancelFunc)
	now     func() time.Time // the clock of SetDeadline's times
	cover   *cover.Recorder
	// perfClosed: perf event arrays whose slots were emptied (no events
	// step reads them).
	perfClosed map[scenario.MapID]bool

	logMu sync.Mutex
	logs  []string // bpf_printk lines since the last Logs

	dlMu     sync.Mutex
	deadline time.Time // SetDeadline
}

// printk keeps a program's bpf_printk line for the step being run, as the
// kernel's trace_pipe shows it: the message alone, one per line.
func (s *skmsgSession) printk(ev *runtime.PrintkEvent) {
	line := strings.TrimSuffix(ev.Text, "\n")
	s.logMu.Lock()
	s.logs = append(s.logs, line)
	s.logMu.Unlock()
	if p, ok := s.debug.(interface{ Printk(string) }); ok {
		p.Printk(line) // shown as it is printed, not only in the report
	}
}

func (s *skmsgSession) CreateMap(def *scenario.MapDef) error {
	spec := bpf.Spec{Name: def.Name, Type: def.Spec.Type, KeySize: def.Spec.KeySize,
		ValueSize: def.Spec.ValueSize, MaxEntries: def.Spec.MaxEntries, Flags: def.Spec.Flags}
	m, err := s.rt.CreateMap(spec)
	if err != nil {
		return err
	}
	s.maps[def.ID] = m
	return nil
}

func (s *skmsgSession) LoadObject(obj *scenario.Object) error {
	// Legacy section names say nothing of the type; the scenario's
	// attach: does, and the program specs carry it.
	var opts []loader.Option
	if s.env.Scenario != nil {
		for _, p := range s.env.Scenario.Programs {
			if p.Object == obj && p.Spec != nil {
				opts = append(opts, loader.WithProgramType(p.Name, p.Spec.Type, p.Spec.AttachType))
			}
		}
	}
	lo, err := loader.FromSpec(obj.Spec, opts...)
	if err != nil {
		return err
	}
	shared := map[string]bpf.Map{}
	for name, id := range obj.Maps {
		if m := s.maps[id]; m != nil {
			shared[name] = m
		}
	}
	coll, err := s.rt.LoadWithOptions(lo, runtime.LoadOptions{Maps: shared})
	if err != nil {
		return err
	}
	for name, id := range obj.Maps {
		if s.maps[id] == nil {
			s.maps[id] = coll.Maps[name]
		}
	}
	s.colls[obj] = coll
	if err := s.closeUnreadPerfSlots(obj); err != nil {
		return err
	}
	if s.cover != nil {
		// Every program, run or not, so that reports show what never ran.
		for _, p := range coll.Programs {
			s.cover.Add(p.VM, obj.Path)
		}
	}
	return nil
}

func (s *skmsgSession) LoadProgram(p *scenario.Program) error {
	coll := s.colls[p.Object]
	if coll == nil {
		return fmt.Errorf("object %s is not loaded", p.Object.Path)
	}
	if err, ok := coll.Rejected[p.Name]; ok {
		if errors.Is(err, runtime.ErrProgramType) {
			// The kernel loads a program of any type, and refuses to
			// attach one no sockmap hook takes (EINVAL): skmsg does
			// not run it and only answers its attach and detach.
			s.foreign[p.ID] = true
			return nil
		}
		if errors.Is(err, loader.ErrNotSupported) {
			// A program type the runtime cannot run yet is no
			// verdict on the program.
			return fmt.Errorf("program %s: %w", p.Name, err)
		}
		// What the kernel's verifier answers for a refused program: the
		// static verifier's errno (EACCES, EINVAL, E2BIG, ...), EACCES
		// for the runtime's own load checks.
		if _, ok := errno.Of(err); ok {
			return err
		}
		return fmt.Errorf("%w: %w", errno.EACCES, err)
	}
	prog := coll.Programs[p.Name]
	if prog == nil {
		return fmt.Errorf("program %s: %w: skmsg prepares sk_msg, sk_skb and sockops programs only", p.Name, ErrNotSupported)
	}
	s.progs[p.ID] = prog
	if s.debug != nil {
		s.debug.AddProgram(prog.VM)
	}
	return nil
}

func (s *skmsgSession) attachArgs(id scenario.ProgID, target scenario.MapID, kind ebpf.AttachType) (*runtime.Program, *runtime.SockMap, ebpf.AttachType, error) {
	if s.foreign[id] {
		// bpf_prog_get_type: not a program type this attach takes.
		return nil, nil, 0, errno.EINVAL
	}
	p := s.progs[id]
	if p == nil {
		return nil, nil, 0, fmt.Errorf("program %d is not loaded", id)
	}
	a := kind
	if kind == ebpf.AttachCGroupSockOps {
		return p, nil, a, nil
	}
	m, err := s.mapOf(target)
	if err != nil {
		return nil, nil, 0, err
	}
	sm, ok := m.(*runtime.SockMap)
	if !ok {
		// BPF_PROG_ATTACH with a map that is no sockmap.
		return nil, nil, 0, errno.EINVAL
	}
	return p, sm, a, nil
}

func (s *skmsgSession) Attach(id scenario.ProgID, target scenario.MapID, kind ebpf.AttachType) error {
	p, sm, a, err := s.attachArgs(id, target, kind)
	if err != nil {
		return err
	}
	if kind == ebpf.AttachCGroupSockOps {
		return s.rt.AttachSockops(p)
	}
	return s.rt.Attach(p, sm, a)
}

func (s *skmsgSession) Detach(id scenario.ProgID, target scenario.MapID, kind ebpf.AttachType) error {
	p, sm, a, err := s.attachArgs(id, target, kind)
	if err != nil {
		return err
	}
	if kind == ebpf.AttachCGroupSockOps {
		return s.rt.DetachSockops(p)
	}
	return s.rt.Detach(p, sm, a)
}

func (s *skmsgSession) add(k *skmsgSocket) scenario.SocketID {
	s.socks = append(s.socks, k)
	return scenario.SocketID(len(s.socks) - 1)
}

func (s *skmsgSession) sock(id scenario.SocketID) (*skmsgSocket, error) {
	if int(id) < 0 || int(id) >= len(s.socks) {
		return nil, fmt.Errorf("no socket %d in this session", id)
	}
	k := s.socks[id]
	if k.closed {
		return nil, errno.EBADF
	}
	return k, nil
}

func (s *skmsgSession) Listen(addr netip.AddrPort) (scenario.SocketID, netip.AddrPort, error) {
	l, err := s.rt.Net().Listen(addr.String())
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	id := s.add(&skmsgSocket{s: l.Socket, l: l})
	s.names.listen(id, l.Socket)
	return id, l.Addr(), nil
}

// acceptTimeout bounds the wait for a handshake of the virtual network,
// which completes without any real delay unless the link has faults.
const acceptTimeout = 10 * time.Second

func (s *skmsgSession) Connect(listener scenario.SocketID, client netip.AddrPort) (scenario.SocketID, scenario.SocketID, error) {
	k, err := s.sock(listener)
	if err != nil {
		return 0, 0, err
	}
	if k.l == nil {
		return 0, 0, errno.EINVAL
	}
	local := ""
	if client.IsValid() {
		local = client.String()
		if client.Port() == 0 {
			local = client.Addr().String()
		}
	} else if k.l.Addr().Addr().Is4() {
		local = "127.0.0.1"
	} else {
		local = "::1"
	}
	cli, err := s.rt.Net().Dial(local, k.l.Addr().String())
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := s.timeout(context.Background(), acceptTimeout)
	defer cancel()
	srv, err := k.l.Accept(ctx)
	if err != nil {
		cli.Close()
		return 0, 0, err
	}
	c, sv := s.add(&skmsgSocket{s: cli}), s.add(&skmsgSocket{s: srv})
	s.names.connect(listener, cli, srv)
	return c, sv, nil
}

func (s *skmsgSession) mapOf(id scenario.MapID) (bpf.Map, error) {
	m := s.maps[id]
	if m == nil {
		return nil, fmt.Errorf("map %d was not created", id)
	}
	return m, nil
}

func (s *skmsgSession) MapUpdate(id scenario.MapID, key []byte, val scenario.MapValue, flags ebpf.MapUpdateFlags) error {
	m, err := s.mapOf(id)
	if err != nil {
		return err
	}
	if val.IsSocket {
		k, err := s.sock(val.Socket)
		if err != nil {
			return err
		}
		return m.Update(key, k.s, uint64(flags))
	}
	return m.UpdateBytes(key, perCPUValue(m, val.Bytes), uint64(flags))
}

func (s *skmsgSession) MapLookup(id scenario.MapID, key []byte) ([]byte, error) {
	m, err := s.mapOf(id)
	if err != nil {
		return nil, err
	}
	v, err := m.LookupBytes(key)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), v...), nil
}

func (s *skmsgSession) MapDelete(id scenario.MapID, key []byte) error {
	m, err := s.mapOf(id)
	if err != nil {
		return err
	}
	return m.DeleteBytes(key)
}

// MapEntries walks the map with get_next_key as user space would
// (scenario.WalkMap); a sockmap walks every index.
func (s *skmsgSession) MapEntries(id scenario.MapID) ([]scenario.MapEntry, error) {
	m, err := s.mapOf(id)
	if err != nil {
		return nil, err
	}
	next := func(prev []byte) ([]byte, error) {
		key := make([]byte, m.KeySize())
		if err := m.NextKeyBytes(prev, key); err != nil {
			if errors.Is(err, errno.ENOENT) {
				return nil, nil
			}
			return nil, err
		}
		return key, nil
	}
	lookup := func(key []byte) ([]byte, error) {
		v, err := m.LookupBytes(key)
		return append([]byte(nil), v...), err
	}
	return scenario.WalkMap(m.Name(), m.MaxEntries(), next, lookup)
}

func (s *skmsgSession) Cookie(id scenario.SocketID) (uint64, error) {
	k, err := s.sock(id)
	if err != nil {
		return 0, err
	}
	return k.s.Cookie(), nil
}

func (s *skmsgSession) Recv(id scenario.SocketID, max int, peek bool) ([]byte, bool, error) {
	k, err := s.sock(id)
	if err != nil {
		return nil, false, err
	}
	flags := netstack.MSG_DONTWAIT
	if peek {
		flags |= netstack.MSG_PEEK
	}
	return scenario.RecvQueued(func(b []byte) (int, error) { return recvEOF(k.s.RecvMsg(b, flags)) }, max, peek)
}

func (s *skmsgSession) Fionread(id scenario.SocketID) (int, error) {
	k, err := s.sock(id)
	if err != nil {
		return 0, err
	}
	return k.s.Fionread()
}

func (s *skmsgSession) Shutdown(id scenario.SocketID, how int) error {
	k, err := s.sock(id)
	if err != nil {
		return err
	}
	return k.s.Shutdown(how)
}

func (s *skmsgSession) SetSockopt(id scenario.SocketID, name string, value int) error {
	k, err := s.sock(id)
	if err != nil {
		return err
	}
	return k.s.SetSockopt(name, value)
}

func (s *skmsgSession) CloseSocket(id scenario.SocketID) error {
	k, err := s.sock(id)
	if err != nil {
		return err
	}
	k.closed = true
	return k.s.Close()
}

// WaitIdle waits until the step's deadline: skmsg's idle is exact, so a
// pipeline still moving bytes (a megabyte through a verdict on a loaded
// machine) is waited for, and only one that never settles fails, saying
// what keeps it busy.
func (s *skmsgSession) WaitIdle() error {
	ctx, cancel := s.deadlineCtx()
	defer cancel()
	if err := s.rt.Net().Netstack().WaitIdle(ctx); err != nil {
		return s.deadlineError("waiting for idle", err)
	}
	return nil
}

// Logs returns the bpf_printk lines of the runs since the last call. It
// also closes the current step's list of program runs: the runner calls
// Logs exactly once per recorded step.
func (s *skmsgSession) Logs() []string {
	s.tracer.endStep()
	s.logMu.Lock()
	defer s.logMu.Unlock()
	out := s.logs
	s.logs = nil
	return out
}

func (s *skmsgSession) Close() error {
	// The network first, so the capture sees the connections end.
	errs := []error{s.rt.Close()}
	if s.capture != nil {
		errs = append(errs, s.capture.Close())
	}
	return errors.Join(errs...)
}
