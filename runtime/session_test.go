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
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/runtime"
	"github.com/skmsg/skmsg/runtime/maps"
	"github.com/skmsg/skmsg/runtime/scenario"
)

// skmsgSession runs scenario sessions on the runtime; with the kernel
// oracle's session it lets one test drive both through the same calls.
type skmsgSession struct {
	rt    *runtime.Runtime
	maps  map[scenario.MapID]maps.Map
	colls map[*scenario.Object]*runtime.Collection
	progs map[scenario.ProgID]*runtime.Program
	socks []*runtime.Socket
	lns   map[scenario.SocketID]*runtime.Listener
}

func newSkmsgSession() *skmsgSession {
	return &skmsgSession{
		rt:    runtime.New(runtime.Options{}),
		maps:  map[scenario.MapID]maps.Map{},
		colls: map[*scenario.Object]*runtime.Collection{},
		progs: map[scenario.ProgID]*runtime.Program{},
		lns:   map[scenario.SocketID]*runtime.Listener{},
	}
}

func (s *skmsgSession) CreateMap(def *scenario.MapDef) error {
	m, err := s.rt.CreateMap(maps.Spec{Name: def.Name, Type: def.Spec.Type, KeySize: def.Spec.KeySize,
		ValueSize: def.Spec.ValueSize, MaxEntries: def.Spec.MaxEntries, Flags: def.Spec.Flags})
	if err != nil {
		return err
	}
	s.maps[def.ID] = m
	return nil
}

func (s *skmsgSession) LoadObject(obj *scenario.Object) error {
	lo, err := loader.FromSpec(obj.Spec)
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

func (s *skmsgSession) LoadProgram(p *scenario.Program) error {
	coll := s.colls[p.Object]
	if err := coll.Rejected[p.Name]; err != nil {
		return err
	}
	prog, ok := coll.Programs[p.Name]
	if !ok {
		return fmt.Errorf("no program %s", p.Name)
	}
	s.progs[p.ID] = prog
	return nil
}

func attachType(k scenario.AttachKind) runtime.AttachType { return runtime.AttachType(k.AttachType()) }

func (s *skmsgSession) sockMap(id scenario.MapID) (*runtime.SockMap, error) {
	sm, ok := s.maps[id].(*runtime.SockMap)
	if !ok {
		return nil, fmt.Errorf("map %d is not a sockmap", id)
	}
	return sm, nil
}

func (s *skmsgSession) Attach(prog scenario.ProgID, target scenario.MapID, kind scenario.AttachKind) error {
	sm, err := s.sockMap(target)
	if err != nil {
		return err
	}
	return s.rt.Attach(s.progs[prog], sm, attachType(kind))
}

func (s *skmsgSession) Detach(prog scenario.ProgID, target scenario.MapID, kind scenario.AttachKind) error {
	sm, err := s.sockMap(target)
	if err != nil {
		return err
	}
	return s.rt.Detach(s.progs[prog], sm, attachType(kind))
}

func (s *skmsgSession) add(sk *runtime.Socket) scenario.SocketID {
	s.socks = append(s.socks, sk)
	return scenario.SocketID(len(s.socks) - 1)
}

func (s *skmsgSession) Listen(addr netip.AddrPort) (scenario.SocketID, netip.AddrPort, error) {
	l, err := s.rt.Net().Listen(addr.String())
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	id := s.add(l.Socket)
	s.lns[id] = l
	return id, l.Addr(), nil
}

func (s *skmsgSession) Connect(listener scenario.SocketID, client netip.AddrPort) (scenario.SocketID, scenario.SocketID, error) {
	l := s.lns[listener]
	local := ""
	if client.IsValid() {
		local = client.String()
		if client.Port() == 0 {
			local = client.Addr().String()
		}
	}
	c, err := s.rt.Net().Dial(local, l.Addr().String())
	if err != nil {
		return 0, 0, err
	}
	srv, err := l.Accept(context.Background())
	if err != nil {
		return 0, 0, err
	}
	return s.add(c), s.add(srv), nil
}

func (s *skmsgSession) MapUpdate(id scenario.MapID, key []byte, val scenario.MapValue, flags ebpf.MapUpdateFlags) error {
	if val.IsSocket {
		sm, err := s.sockMap(id)
		if err != nil {
			return err
		}
		return sm.Update(key, s.socks[val.Socket], uint64(flags))
	}
	return s.maps[id].UpdateBytes(key, val.Bytes, uint64(flags))
}

func (s *skmsgSession) MapLookup(id scenario.MapID, key []byte) ([]byte, error) {
	return s.maps[id].LookupBytes(key)
}

func (s *skmsgSession) MapDelete(id scenario.MapID, key []byte) error {
	return s.maps[id].DeleteBytes(key)
}

func (s *skmsgSession) MapEntries(id scenario.MapID) ([]scenario.MapEntry, error) {
	m := s.maps[id]
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

func (s *skmsgSession) Cookie(id scenario.SocketID) (uint64, error) { return s.socks[id].Cookie(), nil }

func (s *skmsgSession) Send(id scenario.SocketID, iov [][]byte, flags int) (int, error) {
	return s.socks[id].Sendmsg(iov, flags)
}

func (s *skmsgSession) Recv(id scenario.SocketID, max int, peek bool) ([]byte, bool, error) {
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
		n, err := s.socks[id].Recvmsg(buf[:want], flags)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return out, false, nil
		case errors.Is(err, io.EOF):
			return out, true, nil
		case err != nil:
			if len(out) > 0 {
				return out, false, nil
			}
			return nil, false, err
		}
		out = append(out, buf[:n]...)
		if peek {
			return out, false, nil
		}
	}
	return out, false, nil
}

func (s *skmsgSession) Fionread(id scenario.SocketID) (int, error) {
	return s.socks[id].Fionread(), nil
}
func (s *skmsgSession) Shutdown(id scenario.SocketID, how int) error {
	return s.socks[id].Shutdown(how)
}
func (s *skmsgSession) SetSockopt(id scenario.SocketID, name string, value int) error {
	return s.socks[id].SetSockopt(name, value)
}
func (s *skmsgSession) CloseSocket(id scenario.SocketID) error { return s.socks[id].Close() }
func (s *skmsgSession) WaitIdle() error {
	return s.rt.WaitIdle(time.Now().Add(5 * time.Second))
}
func (s *skmsgSession) Logs() []string { return nil }
func (s *skmsgSession) Close() error   { return s.rt.Close() }

var _ scenario.Session = (*skmsgSession)(nil)

// describe lists the session's sockets with what they have readable, for
// failure messages.
func (s *skmsgSession) describe() string {
	out := ""
	for i, sk := range s.socks {
		if sk.State() == runtime.StateClose {
			continue
		}
		out += fmt.Sprintf("[%d %s readable %d] ", i, sk, sk.Fionread())
	}
	return out
}
