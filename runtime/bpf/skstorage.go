package bpf

import (
	"encoding/binary"
	"sync"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"
)

// SkStorage is BPF_MAP_TYPE_SK_STORAGE: one value per socket. Sockets are
// named by a 64-bit identity the runtime chooses; the 4-byte keys of the
// byte-level interface (a socket fd in the kernel) are that identity
// zero-extended. The runtime calls Forget when a socket is destroyed.
type SkStorage struct {
	*base
	mu   sync.RWMutex
	vals map[uint64][]byte
}

func newSkStorage(b *base) *SkStorage {
	s := &SkStorage{base: b, vals: make(map[uint64][]byte)}
	b.init(s)
	return s
}

func nativeU32(b []byte) uint32 { return binary.NativeEndian.Uint32(b) }

// Get is bpf_sk_storage_get: the socket's live value, created (from init,
// or zeroed when init is nil) if create is set.
func (s *SkStorage) Get(sk uint64, create bool, init []byte) []byte {
	s.mu.RLock()
	v := s.vals[sk]
	s.mu.RUnlock()
	if v != nil || !create {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v = s.vals[sk]; v == nil {
		v = make([]byte, s.spec.ValueSize, roundUp8(s.spec.ValueSize))
		storeValue(v, padTo(init, int(s.spec.ValueSize)), s.spec.SpinLockOff, false)
		s.vals[sk] = v
	}
	return v
}

// DeleteSocket is bpf_sk_storage_delete.
func (s *SkStorage) DeleteSocket(sk uint64) syscall.Errno {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vals[sk]; !ok {
		return errno.ENOENT
	}
	delete(s.vals, sk)
	return 0
}

// Forget drops the value of a socket that went away.
func (s *SkStorage) Forget(sk uint64) {
	s.mu.Lock()
	delete(s.vals, sk)
	s.mu.Unlock()
}

func (s *SkStorage) sysLookup(key []byte) ([]byte, syscall.Errno) {
	s.mu.RLock()
	v := s.vals[uint64(nativeU32(key))]
	s.mu.RUnlock()
	if v == nil {
		return nil, errno.ENOENT
	}
	return v, 0
}

func (s *SkStorage) sysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if flags&^UpdateLock > UpdateExist {
		return errno.EINVAL
	}
	sk := uint64(nativeU32(key))
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.vals[sk]
	switch op := flags &^ UpdateLock; {
	case old != nil && op == UpdateNoExist:
		return errno.EEXIST
	case old == nil && op == UpdateExist:
		return errno.ENOENT
	case old != nil && flags&UpdateLock != 0:
		storeValue(old, value, s.spec.SpinLockOff, true)
		return 0
	}
	v := make([]byte, s.spec.ValueSize, roundUp8(s.spec.ValueSize))
	copy(v, value)
	s.vals[sk] = v
	return 0
}

func (s *SkStorage) sysDelete(key []byte) syscall.Errno {
	return s.DeleteSocket(uint64(nativeU32(key)))
}

func (s *SkStorage) nextKey(key, next []byte) syscall.Errno { return errno.ENOTSUPP }

func nativePut64(b []byte, v uint64) { binary.NativeEndian.PutUint64(b, v) }
