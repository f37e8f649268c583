package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/runtime/bpf"
)

// SockMap is a BPF_MAP_TYPE_SOCKMAP or BPF_MAP_TYPE_SOCKHASH: sockets
// stored under keys, plus the four program slots sockets inherit when they
// are inserted. It implements bpf.Map: user-space lookups return the
// socket's cookie (u64), updates take a *Socket or a descriptor number.
type SockMap struct {
	bpf.API
	rt   *Runtime
	spec bpf.Spec
	hash bool

	mu    sync.Mutex
	slots []*Socket            // sockmap
	elems map[string]*hashElem // sockhash
	order []*hashElem          // sockhash, in insertion order (get_next_key walk)

	progMu   sync.Mutex
	progs    progSlots
	links    [4]*Link // link owning each slot, by slotIndex
	released bool
}

// hashElem is one sockhash element; its identity is what a psock link
// points at.
type hashElem struct {
	key string
	sk  *Socket
}

const (
	maxSockHashKey     = 512 // MAX_BPF_STACK
	sockCreateFlagMask = bpf.FlagNumaNode | bpf.FlagRdonly | bpf.FlagWronly
)

// newSockMap checks spec like sock_map_alloc / sock_hash_alloc.
func newSockMap(rt *Runtime, spec bpf.Spec) (*SockMap, error) {
	fail := func(e syscall.Errno, why string) error {
		return &bpf.MapError{Map: spec.Name, Op: "create", Errno: e, Detail: why}
	}
	hash := spec.Type == ebpf.SockHash
	if spec.MaxEntries == 0 {
		return nil, fail(errno.EINVAL, "max_entries is 0")
	}
	if spec.ValueSize != 4 && spec.ValueSize != 8 {
		return nil, fail(errno.EINVAL, fmt.Sprintf("value size %d (want 4 or 8)", spec.ValueSize))
	}
	if spec.Flags&^sockCreateFlagMask != 0 {
		return nil, fail(errno.EINVAL, fmt.Sprintf("flags %#x not allowed", spec.Flags))
	}
	if hash {
		if spec.KeySize == 0 {
			return nil, fail(errno.EINVAL, "key size 0")
		}
		if spec.KeySize > maxSockHashKey {
			return nil, fail(errno.E2BIG, fmt.Sprintf("key size %d > %d", spec.KeySize, maxSockHashKey))
		}
	} else if spec.KeySize != 4 {
		return nil, fail(errno.EINVAL, fmt.Sprintf("key size %d (a sockmap key is a u32 index)", spec.KeySize))
	}
	m := &SockMap{rt: rt, spec: spec, hash: hash}
	if hash {
		m.elems = make(map[string]*hashElem)
	} else {
		m.slots = make([]*Socket, spec.MaxEntries)
	}
	m.API = bpf.NewAPI(m)
	return m, nil
}

// NewSockMap creates a sockmap or sockhash outside any object (what
// create_maps in a scenario does).
func (rt *Runtime) NewSockMap(spec bpf.Spec) (*SockMap, error) {
	if spec.Type != ebpf.SockMap && spec.Type != ebpf.SockHash {
		return nil, fmt.Errorf("map %s: %s is not a sockmap or sockhash", spec.Name, spec.Type)
	}
	return newSockMap(rt, spec)
}

func (m *SockMap) Name() string       { return m.spec.Name }
func (m *SockMap) Type() ebpf.MapType { return m.spec.Type }
func (m *SockMap) KeySize() uint32    { return m.spec.KeySize }
func (m *SockMap) ValueSize() uint32  { return m.spec.ValueSize }
func (m *SockMap) MaxEntries() uint32 { return m.spec.MaxEntries }
func (m *SockMap) Flags() uint32      { return m.spec.Flags }
func (m *SockMap) Freeze() error      { return m.fail("freeze", errno.EINVAL, "") }

// Spec returns the spec the map was created from.
func (m *SockMap) Spec() bpf.Spec { return m.spec }

func (m *SockMap) fail(op string, e syscall.Errno, why string) error {
	return &bpf.MapError{Map: m.spec.Name, Op: op, Errno: e, Detail: why}
}

func (m *SockMap) checkKey(op string, key []byte) error {
	if len(key) != int(m.spec.KeySize) {
		return m.fail(op, errno.EINVAL, fmt.Sprintf("key has %d bytes, map has %d", len(key), m.spec.KeySize))
	}
	return nil
}

// lookupSock returns the socket stored under key (__sock_map_lookup_elem /
// __sock_hash_lookup_elem), or nil.
func (m *SockMap) lookupSock(key []byte) *Socket {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookupLocked(key)
}

func (m *SockMap) lookupLocked(key []byte) *Socket {
	if m.hash {
		if e := m.elems[string(key)]; e != nil {
			return e.sk
		}
		return nil
	}
	idx := binary.NativeEndian.Uint32(key)
	if idx >= m.spec.MaxEntries {
		return nil
	}
	return m.slots[idx]
}

// lookupIndex is the sockmap lookup by index used by msg_redirect_map.
func (m *SockMap) lookupIndex(idx uint32) *Socket {
	m.mu.Lock()
	defer m.mu.Unlock()
	if idx >= uint32(len(m.slots)) {
		return nil
	}
	return m.slots[idx]
}

// LookupBytes returns the socket's cookie (sock_map_lookup_sys): ENOSPC
// when values are 4 bytes, ENOENT for an empty slot or a missing key.
func (m *SockMap) LookupBytes(key []byte) ([]byte, error) {
	if m.spec.Flags&bpf.FlagWronly != 0 {
		return nil, m.fail("lookup", errno.EPERM, "map is write-only to user space")
	}
	if err := m.checkKey("lookup", key); err != nil {
		return nil, err
	}
	if m.spec.ValueSize != 8 {
		return nil, m.fail("lookup", errno.ENOSPC, "a socket cookie needs an 8-byte value")
	}
	sk := m.lookupSock(key)
	if sk == nil {
		return nil, m.fail("lookup", errno.ENOENT, "")
	}
	out := make([]byte, 8)
	binary.NativeEndian.PutUint64(out, sk.Cookie())
	return out, nil
}

// UpdateBytes inserts the socket whose descriptor number value holds
// (sock_map_update_elem_sys).
func (m *SockMap) UpdateBytes(key, value []byte, flags uint64) error {
	if m.spec.Flags&bpf.FlagRdonly != 0 {
		return m.fail("update", errno.EPERM, "map is read-only to user space")
	}
	if err := m.checkKey("update", key); err != nil {
		return err
	}
	if len(value) != int(m.spec.ValueSize) {
		return m.fail("update", errno.EINVAL, fmt.Sprintf("value has %d bytes, map takes %d", len(value), m.spec.ValueSize))
	}
	var fd uint64
	if len(value) == 8 {
		fd = binary.NativeEndian.Uint64(value)
	} else {
		fd = uint64(binary.NativeEndian.Uint32(value))
	}
	if fd > math.MaxInt32 {
		return m.fail("update", errno.EINVAL, fmt.Sprintf("descriptor %d above INT_MAX", fd))
	}
	sk := m.rt.socketByFD(int32(fd))
	if sk == nil {
		return m.fail("update", errno.EBADF, fmt.Sprintf("%d is not an open socket", fd))
	}
	return m.updateSocket(key, sk, flags)
}

// Update stores a socket: value is a *Socket, or a descriptor number as
// user space passes it (u32 or u64, per the value size).
func (m *SockMap) Update(key, value any, flags uint64) error {
	if sk, ok := value.(*Socket); ok {
		if m.spec.Flags&bpf.FlagRdonly != 0 {
			return m.fail("update", errno.EPERM, "map is read-only to user space")
		}
		k, err := marshalKey(key, int(m.spec.KeySize))
		if err != nil {
			return fmt.Errorf("map %s: update: key: %w", m.spec.Name, err)
		}
		if sk.closed.Load() {
			return m.fail("update", errno.EBADF, "socket is closed")
		}
		return m.updateSocket(k, sk, flags)
	}
	return m.API.Update(key, value, flags)
}

// Put is Update with BPF_ANY.
func (m *SockMap) Put(key, value any) error { return m.Update(key, value, bpf.UpdateAny) }

// updateSocket is sock_map_update_elem_sys after the descriptor lookup.
func (m *SockMap) updateSocket(key []byte, sk *Socket, flags uint64) error {
	if st := sk.State(); st != StateEstablished && st != StateListen {
		return m.fail("update", errno.EOPNOTSUPP, fmt.Sprintf("socket in state %s", st))
	}
	if e := m.updateCommon(key, sk, flags); e != 0 {
		return m.fail("update", e, "")
	}
	return nil
}

// updateCommon is sock_map_update_common / sock_hash_update_common, also
// used by the sockops helpers.
func (m *SockMap) updateCommon(key []byte, sk *Socket, flags uint64) syscall.Errno {
	if flags > bpf.UpdateExist {
		return errno.EINVAL
	}
	var idx uint32
	if !m.hash {
		idx = binary.NativeEndian.Uint32(key)
		if idx >= m.spec.MaxEntries {
			return errno.E2BIG
		}
	}
	p, created, e := m.link(sk)
	if e != 0 {
		return e
	}
	_ = created
	m.mu.Lock()
	var old *Socket
	var oldRaw any
	if m.hash {
		el := m.elems[string(key)]
		if el != nil && flags == bpf.UpdateNoExist {
			m.mu.Unlock()
			p.put()
			return errno.EEXIST
		}
		if el == nil && flags == bpf.UpdateExist {
			m.mu.Unlock()
			p.put()
			return errno.ENOENT
		}
		if el == nil && uint32(len(m.elems)) >= m.spec.MaxEntries {
			m.mu.Unlock()
			p.put()
			return errno.E2BIG
		}
		ne := &hashElem{key: string(key), sk: sk}
		p.addLink(m, ne)
		m.elems[ne.key] = ne
		if el != nil {
			old, oldRaw = el.sk, el
			for i, o := range m.order {
				if o == el {
					m.order[i] = ne
					break
				}
			}
		} else {
			m.order = append(m.order, ne)
		}
	} else {
		osk := m.slots[idx]
		if osk != nil && flags == bpf.UpdateNoExist {
			m.mu.Unlock()
			p.put()
			return errno.EEXIST
		}
		if osk == nil && flags == bpf.UpdateExist {
			m.mu.Unlock()
			p.put()
			return errno.ENOENT
		}
		p.addLink(m, idx)
		m.slots[idx] = sk
		old, oldRaw = osk, idx
	}
	m.mu.Unlock()
	if old != nil {
		unref(old, m, oldRaw)
	}
	return 0
}

// unref removes the link (m, raw) from sk's psock and drops the reference
// it held (sock_map_unref).
func unref(sk *Socket, m *SockMap, raw any) {
	p := sk.psock.Load()
	if p == nil {
		return
	}
	p.delLink(m, raw)
	p.put()
}

func (p *psock) addLink(m *SockMap, raw any) {
	p.mu.Lock()
	p.links = append(p.links, link{m: m, raw: raw})
	p.mu.Unlock()
}

// link is sock_map_link: take the map's programs, get or create the
// socket's psock, refuse slot conflicts (EBUSY), copy the programs in and
// choose the receive mode. The caller owns one psock reference on success.
func (m *SockMap) link(sk *Socket) (*psock, bool, syscall.Errno) {
	mp := m.currentProgs()
	if sk.ln != nil {
		// A listener's psock takes no receive programs, and on the
		// current build no sk_msg program either (listener.go): nothing
		// runs for it, and inserting it again, under another key or in
		// another map, meets no program conflict.
		mp.StreamParser, mp.StreamVerdict, mp.SkbVerdict = nil, nil, nil
		if !sk.rt.opts.Kernel.ListenerSendRunsMsg {
			mp.Msg = nil
		}
	}
	sk.psockMu.Lock()
	defer sk.psockMu.Unlock()
	p := sk.psock.Load()
	created := false
	if p != nil {
		if !p.get() {
			return nil, false, errno.EBUSY
		}
		cur := p.snapshot()
		if (mp.Msg != nil && cur.Msg != nil) ||
			(mp.StreamParser != nil && cur.StreamParser != nil) ||
			(mp.SkbVerdict != nil && (cur.SkbVerdict != nil || cur.StreamVerdict != nil)) ||
			(mp.StreamVerdict != nil && (cur.SkbVerdict != nil || cur.StreamVerdict != nil)) {
			p.put()
			return nil, false, errno.EBUSY
		}
	} else {
		p = newPsock(sk)
		created = true
	}
	if mp.Msg != nil {
		p.progs.msg.Store(mp.Msg)
	}
	if mp.StreamParser != nil {
		p.progs.streamParser.Store(mp.StreamParser)
	}
	if mp.StreamVerdict != nil {
		p.progs.streamVerdict.Store(mp.StreamVerdict)
	}
	if mp.SkbVerdict != nil {
		p.progs.skbVerdict.Store(mp.SkbVerdict)
	}
	if created {
		sk.psock.Store(p)
	}
	sk.updateProto()
	if e := p.rxStartFor(mp); e != 0 {
		p.put()
		return nil, false, e
	}
	return p, created, 0
}

// DeleteBytes removes key (sock_map_delete_elem / sock_hash_delete_elem):
// an empty sockmap slot or an index out of range is EINVAL, a missing
// sockhash key ENOENT.
func (m *SockMap) DeleteBytes(key []byte) error {
	if m.spec.Flags&bpf.FlagRdonly != 0 {
		return m.fail("delete", errno.EPERM, "map is read-only to user space")
	}
	if err := m.checkKey("delete", key); err != nil {
		return err
	}
	if e := m.deleteKey(key); e != 0 {
		return m.fail("delete", e, "")
	}
	return nil
}

func (m *SockMap) deleteKey(key []byte) syscall.Errno {
	m.mu.Lock()
	if m.hash {
		el := m.elems[string(key)]
		if el == nil {
			m.mu.Unlock()
			return errno.ENOENT
		}
		m.removeElemLocked(el)
		m.mu.Unlock()
		unref(el.sk, m, el)
		return 0
	}
	idx := binary.NativeEndian.Uint32(key)
	if idx >= m.spec.MaxEntries || m.slots[idx] == nil {
		m.mu.Unlock()
		return errno.EINVAL
	}
	sk := m.slots[idx]
	m.slots[idx] = nil
	m.mu.Unlock()
	unref(sk, m, idx)
	return 0
}

func (m *SockMap) removeElemLocked(el *hashElem) {
	delete(m.elems, el.key)
	for i, o := range m.order {
		if o == el {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
}

// unlink removes sk from the entry raw if it still holds sk
// (sock_map_unlink on close).
func (m *SockMap) unlink(sk *Socket, raw any) {
	m.mu.Lock()
	removed := false
	if m.hash {
		el := raw.(*hashElem)
		if cur := m.elems[el.key]; cur == el && el.sk == sk {
			m.removeElemLocked(el)
			removed = true
		}
	} else {
		idx := raw.(uint32)
		if m.slots[idx] == sk {
			m.slots[idx] = nil
			removed = true
		}
	}
	m.mu.Unlock()
	if removed {
		unref(sk, m, raw)
	}
}

// NextKeyBytes walks a sockmap's indices regardless of occupancy, and a
// sockhash's keys in insertion order.
func (m *SockMap) NextKeyBytes(key, next []byte) error {
	if key != nil {
		if err := m.checkKey("next key", key); err != nil {
			return err
		}
	}
	if len(next) != int(m.spec.KeySize) {
		return m.fail("next key", errno.EINVAL, fmt.Sprintf("output key has %d bytes", len(next)))
	}
	if !m.hash {
		i := uint32(math.MaxUint32)
		if key != nil {
			i = binary.NativeEndian.Uint32(key)
		}
		if i >= m.spec.MaxEntries {
			binary.NativeEndian.PutUint32(next, 0)
			return nil
		}
		if i == m.spec.MaxEntries-1 {
			return m.fail("next key", errno.ENOENT, "")
		}
		binary.NativeEndian.PutUint32(next, i+1)
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	pos := 0
	if key != nil {
		if el := m.elems[string(key)]; el != nil {
			for i, o := range m.order {
				if o == el {
					pos = i + 1
					break
				}
			}
		}
	}
	if pos >= len(m.order) {
		return m.fail("next key", errno.ENOENT, "")
	}
	copy(next, m.order[pos].key)
	return nil
}

// Sockets returns the sockets in the map with their keys, in get_next_key
// order.
func (m *SockMap) Sockets() (keys [][]byte, socks []*Socket) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hash {
		for _, el := range m.order {
			keys = append(keys, []byte(el.key))
			socks = append(socks, el.sk)
		}
		return
	}
	for i, sk := range m.slots {
		if sk != nil {
			k := make([]byte, 4)
			binary.NativeEndian.PutUint32(k, uint32(i))
			keys = append(keys, k)
			socks = append(socks, sk)
		}
	}
	return
}

// Release drops the map's programs, as when its last user reference goes
// away (sock_map_release_progs), and removes every socket.
func (m *SockMap) Release() {
	m.progMu.Lock()
	m.released = true
	for _, a := range []ebpf.AttachType{ebpf.AttachSkMsgVerdict, ebpf.AttachSkSKBStreamParser, ebpf.AttachSkSKBStreamVerdict, ebpf.AttachSkSKBVerdict} {
		m.progs.slot(a).Store(nil)
	}
	m.progMu.Unlock()
	keys, socks := m.Sockets()
	for i, k := range keys {
		if m.hash {
			m.mu.Lock()
			el := m.elems[string(k)]
			m.mu.Unlock()
			if el != nil {
				m.unlink(socks[i], el)
			}
		} else {
			m.unlink(socks[i], binary.NativeEndian.Uint32(k))
		}
	}
}

func (m *SockMap) currentProgs() Progs {
	return Progs{
		Msg:           m.progs.msg.Load(),
		StreamParser:  m.progs.streamParser.Load(),
		StreamVerdict: m.progs.streamVerdict.Load(),
		SkbVerdict:    m.progs.skbVerdict.Load(),
	}
}

// Programs returns the programs currently attached to the map.
func (m *SockMap) Programs() Progs { return m.currentProgs() }

func marshalKey(key any, size int) ([]byte, error) {
	switch k := key.(type) {
	case []byte:
		if len(k) != size {
			return nil, fmt.Errorf("%d bytes, want %d", len(k), size)
		}
		return k, nil
	case uint32:
		if size != 4 {
			return nil, fmt.Errorf("u32 key for a %d-byte key", size)
		}
		return binary.NativeEndian.AppendUint32(nil, k), nil
	case int:
		if size != 4 || k < 0 || k > math.MaxUint32 {
			return nil, fmt.Errorf("int key %d for a %d-byte key", k, size)
		}
		return binary.NativeEndian.AppendUint32(nil, uint32(k)), nil
	case uint64:
		if size != 8 {
			return nil, fmt.Errorf("u64 key for a %d-byte key", size)
		}
		return binary.NativeEndian.AppendUint64(nil, k), nil
	}
	b, err := binaryMarshal(key)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	return b, nil
}

func binaryMarshal(v any) ([]byte, error) {
	if bm, ok := v.(interface{ MarshalBinary() ([]byte, error) }); ok {
		return bm.MarshalBinary()
	}
	var buf bytesBuffer
	if err := binary.Write(&buf, binary.NativeEndian, v); err != nil {
		return nil, err
	}
	return buf.b, nil
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// Map update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST).
const (
	UpdateAny     = bpf.UpdateAny
	UpdateNoExist = bpf.UpdateNoExist
	UpdateExist   = bpf.UpdateExist
)
