package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/netstack"
	"github.com/skmsg/skmsg/runtime"
	"github.com/skmsg/skmsg/runtime/maps"
	"github.com/skmsg/skmsg/runtime/scenario"
)

// rxBackend runs scenarios on the runtime, so the receive-path
// scenarios can be compared with the kernel from this package's tests.
type rxBackend struct{}

func (rxBackend) Name() string { return "skmsg" }

func (rxBackend) NewSession(env *scenario.Env) (scenario.Session, error) {
	rt := runtime.New(runtime.Options{
		Seed: int64(env.Seed),
		// Loopback's MTU, so a write below 64 KiB is one segment as on lo.
		Network: netstack.Options{MTU: 65535, ChecksumOffload: true},
	})
	return &rxSession{
		env: env, rt: rt,
		maps:  map[scenario.MapID]maps.Map{},
		colls: map[*scenario.Object]*runtime.Collection{},
		progs: map[scenario.ProgID]*runtime.Program{},
	}, nil
}

type rxSocket struct {
	s      *runtime.Socket
	l      *runtime.Listener
	closed bool
}

type rxSession struct {
	env   *scenario.Env
	rt    *runtime.Runtime
	maps  map[scenario.MapID]maps.Map
	colls map[*scenario.Object]*runtime.Collection
	progs map[scenario.ProgID]*runtime.Program
	socks []*rxSocket
}

func (s *rxSession) CreateMap(def *scenario.MapDef) error {
	spec := maps.Spec{Name: def.Name, Type: def.Spec.Type, KeySize: def.Spec.KeySize,
		ValueSize: def.Spec.ValueSize, MaxEntries: def.Spec.MaxEntries, Flags: def.Spec.Flags}
	m, err := s.rt.CreateMap(spec)
	if err != nil {
		return err
	}
	s.maps[def.ID] = m
	return nil
}

func (s *rxSession) LoadObject(obj *scenario.Object) error {
	var opts []loader.Option
	for _, p := range s.env.Scenario.Programs {
		if p.Object == obj && p.Spec != nil {
			opts = append(opts, loader.WithProgramType(p.Name, p.Spec.Type, p.Spec.AttachType))
		}
	}
	lo, err := loader.FromSpec(obj.Spec, opts...)
	if err != nil {
		return err
	}
	shared := map[string]maps.Map{}
	for name, id := range obj.Maps {
		if m := s.maps[id]; m != nil {
			shared[name] = m
		}
	}
	coll, err := s.rt.Load(lo, runtime.LoadOptions{Maps: shared})
	if err != nil {
		return err
	}
	for name, id := range obj.Maps {
		if s.maps[id] == nil {
			s.maps[id] = coll.Maps[name]
		}
	}
	s.colls[obj] = coll
	return nil
}

func (s *rxSession) LoadProgram(p *scenario.Program) error {
	coll := s.colls[p.Object]
	if coll == nil {
		return fmt.Errorf("object %s is not loaded", p.Object.Path)
	}
	if err, ok := coll.Rejected[p.Name]; ok {
		return fmt.Errorf("%w: %v", syscall.EACCES, err)
	}
	prog := coll.Programs[p.Name]
	if prog == nil {
		return fmt.Errorf("program %s not in the object", p.Name)
	}
	s.progs[p.ID] = prog
	return nil
}

func rxAttachType(k scenario.AttachKind) runtime.AttachType {
	a, _ := runtime.ParseAttachType(k.String())
	return a
}

func (s *rxSession) Attach(id scenario.ProgID, target scenario.MapID, kind scenario.AttachKind) error {
	p := s.progs[id]
	if kind == scenario.AttachSockops {
		return s.rt.AttachSockops(p)
	}
	sm, ok := s.maps[target].(*runtime.SockMap)
	if !ok {
		return syscall.EOPNOTSUPP
	}
	return s.rt.Attach(p, sm, rxAttachType(kind))
}

func (s *rxSession) Detach(id scenario.ProgID, target scenario.MapID, kind scenario.AttachKind) error {
	p := s.progs[id]
	if kind == scenario.AttachSockops {
		return s.rt.DetachSockops(p)
	}
	sm, ok := s.maps[target].(*runtime.SockMap)
	if !ok {
		return syscall.EOPNOTSUPP
	}
	return s.rt.Detach(p, sm, rxAttachType(kind))
}

func (s *rxSession) add(k *rxSocket) scenario.SocketID {
	s.socks = append(s.socks, k)
	return scenario.SocketID(len(s.socks) - 1)
}

func (s *rxSession) sock(id scenario.SocketID) (*rxSocket, error) {
	if int(id) < 0 || int(id) >= len(s.socks) {
		return nil, fmt.Errorf("no socket %d", id)
	}
	k := s.socks[id]
	if k.closed {
		return nil, syscall.EBADF
	}
	return k, nil
}

func (s *rxSession) Listen(addr netip.AddrPort) (scenario.SocketID, netip.AddrPort, error) {
	l, err := s.rt.Net().Listen(addr.String())
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	return s.add(&rxSocket{s: l.Socket, l: l}), l.Addr(), nil
}

func (s *rxSession) Connect(listener scenario.SocketID, client netip.AddrPort) (scenario.SocketID, scenario.SocketID, error) {
	k, err := s.sock(listener)
	if err != nil {
		return 0, 0, err
	}
	if k.l == nil {
		return 0, 0, syscall.EINVAL
	}
	local := "127.0.0.1"
	if client.IsValid() {
		local = client.String()
	}
	cli, err := s.rt.Net().Dial(local, k.l.Addr().String())
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv, err := k.l.Accept(ctx)
	if err != nil {
		return 0, 0, err
	}
	return s.add(&rxSocket{s: cli}), s.add(&rxSocket{s: srv}), nil
}

func (s *rxSession) mapOf(id scenario.MapID) (maps.Map, error) {
	m := s.maps[id]
	if m == nil {
		return nil, fmt.Errorf("map %d was not created", id)
	}
	return m, nil
}

func (s *rxSession) MapUpdate(id scenario.MapID, key []byte, val scenario.MapValue, flags ebpf.MapUpdateFlags) error {
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
	return m.UpdateBytes(key, val.Bytes, uint64(flags))
}

func (s *rxSession) MapLookup(id scenario.MapID, key []byte) ([]byte, error) {
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

func (s *rxSession) MapDelete(id scenario.MapID, key []byte) error {
	m, err := s.mapOf(id)
	if err != nil {
		return err
	}
	return m.DeleteBytes(key)
}

func (s *rxSession) MapEntries(id scenario.MapID) ([]scenario.MapEntry, error) {
	m, err := s.mapOf(id)
	if err != nil {
		return nil, err
	}
	var out []scenario.MapEntry
	var prev []byte
	for i := 0; i <= int(m.MaxEntries())+1; i++ {
		next := make([]byte, m.KeySize())
		if err := m.NextKeyBytes(prev, next); err != nil {
			if errors.Is(err, syscall.ENOENT) {
				return out, nil
			}
			return out, err
		}
		prev = next
		v, err := m.LookupBytes(next)
		if err != nil {
			if errors.Is(err, syscall.ENOENT) {
				continue
			}
			if errors.Is(err, syscall.ENOSPC) {
				out = append(out, scenario.MapEntry{Key: next})
				continue
			}
			return out, err
		}
		out = append(out, scenario.MapEntry{Key: next, Value: append([]byte(nil), v...)})
	}
	return out, nil
}

func (s *rxSession) Cookie(id scenario.SocketID) (uint64, error) {
	k, err := s.sock(id)
	if err != nil {
		return 0, err
	}
	return k.s.Cookie(), nil
}

func (s *rxSession) Send(id scenario.SocketID, iov [][]byte, flags int) (int, error) {
	k, err := s.sock(id)
	if err != nil {
		return 0, err
	}
	return k.s.Sendmsg(iov, flags)
}

func (s *rxSession) Recv(id scenario.SocketID, max int, peek bool) ([]byte, bool, error) {
	k, err := s.sock(id)
	if err != nil {
		return nil, false, err
	}
	flags := syscall.MSG_DONTWAIT
	if peek {
		flags |= syscall.MSG_PEEK
	}
	var out []byte
	buf := make([]byte, 64<<10)
	for max <= 0 || len(out) < max {
		want := len(buf)
		if max > 0 {
			want = min(want, max-len(out))
		}
		n, err := k.s.Recvmsg(buf[:want], flags)
		switch {
		case errors.Is(err, io.EOF) && n == 0:
			return out, true, nil
		case errors.Is(err, syscall.EAGAIN):
			return out, false, nil
		case err != nil:
			if len(out) > 0 {
				return out, false, nil
			}
			return nil, false, err
		case n == 0:
			return out, true, nil
		}
		out = append(out, buf[:n]...)
		if peek {
			return out, false, nil
		}
	}
	return out, false, nil
}

func (s *rxSession) Fionread(id scenario.SocketID) (int, error) {
	k, err := s.sock(id)
	if err != nil {
		return 0, err
	}
	return k.s.Fionread(), nil
}

func (s *rxSession) Shutdown(id scenario.SocketID, how int) error {
	k, err := s.sock(id)
	if err != nil {
		return err
	}
	return k.s.Shutdown(how)
}

func (s *rxSession) SetSockopt(id scenario.SocketID, name string, value int) error {
	k, err := s.sock(id)
	if err != nil {
		return err
	}
	c := k.s.Conn()
	if c == nil {
		return syscall.ENOTCONN
	}
	so := c.Endpoint().SocketOptions()
	switch name {
	case "SO_RCVBUF":
		so.SetReceiveBufferSize(int64(2*value), true)
	case "SO_SNDBUF":
		so.SetSendBufferSize(int64(2*value), true)
	case "SO_RCVLOWAT":
		return rxTCPErr(so.SetRcvlowat(int32(value)))
	case "SO_KEEPALIVE":
		so.SetKeepAlive(value != 0)
	case "TCP_NODELAY":
		so.SetDelayOption(value == 0)
	default:
		return fmt.Errorf("unknown socket option %s", name)
	}
	return nil
}

func rxTCPErr(e tcpip.Error) error {
	if e == nil {
		return nil
	}
	return syscall.EINVAL
}

func (s *rxSession) CloseSocket(id scenario.SocketID) error {
	k, err := s.sock(id)
	if err != nil {
		return err
	}
	k.closed = true
	return k.s.Close()
}

func (s *rxSession) WaitIdle() error {
	return s.rt.WaitIdle(time.Now().Add(s.env.IdleTimeout))
}

func (s *rxSession) Logs() []string { return nil }

func (s *rxSession) Close() error { return s.rt.Close() }
