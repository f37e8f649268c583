package bpf

import (
	"sync/atomic"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
)

// Raw is the byte-level interface of a map, with the semantics of the
// bpf(2) syscall commands as seen from user space: keys and values are
// exactly KeySize and ValueSize bytes (for per-CPU maps a value is NumCPU
// values, each padded to 8 bytes, as BPF_MAP_LOOKUP_ELEM returns them).
//
// Maps made elsewhere (the runtime's sockmap and sockhash) implement Raw
// and embed an API made by NewAPI to become a Map.
type Raw interface {
	Name() string
	Type() ebpf.MapType
	KeySize() uint32
	ValueSize() uint32
	MaxEntries() uint32
	Flags() uint32

	// LookupBytes returns the value stored under key. For maps other than
	// per-CPU ones this is the live value: writes through it are writes
	// to the map (programs get it as a map-value region).
	LookupBytes(key []byte) ([]byte, error)
	// UpdateBytes stores value under key (BPF_ANY, BPF_NOEXIST,
	// BPF_EXIST, BPF_F_LOCK); for queues and stacks key is nil and this
	// pushes.
	UpdateBytes(key, value []byte, flags uint64) error
	DeleteBytes(key []byte) error
	// NextKeyBytes writes the key after key into next (the first key when
	// key is nil or not in the map, in the kernel's get_next_key order);
	// ENOENT after the last one.
	NextKeyBytes(key, next []byte) error
	// Freeze makes the map read-only to user space (BPF_MAP_FREEZE).
	Freeze() error
}

// Map is a BPF map: the byte-level interface plus the typed one.
type Map interface {
	Raw
	Lookup(key, valueOut any) error
	LookupAndDelete(key, valueOut any) error
	Put(key, value any) error
	Update(key, value any, flags uint64) error
	Delete(key any) error
	NextKey(key, nextKeyOut any) error
	Iterate() *Iterator
}

// mapImpl is what each map type of this package implements below the
// common user-space checks of base. Keys and values have their exact
// sizes when these are called.
type mapImpl interface {
	sysLookup(key []byte) ([]byte, syscall.Errno)
	sysUpdate(key, value []byte, flags uint64) syscall.Errno
	sysDelete(key []byte) syscall.Errno
	nextKey(key, next []byte) syscall.Errno
}

// elemOps is the program-side view of a map (the bpf_map_* helpers): the
// live value of the running CPU for per-CPU maps.
type elemOps interface {
	progLookup(key []byte, cpu int) ([]byte, syscall.Errno)
	progUpdate(key, value []byte, flags uint64, cpu int) syscall.Errno
	progDelete(key []byte) syscall.Errno
}

var mapIDs atomic.Uint32

// base holds what every map of this package shares: its spec, the
// user-space permission state and the typed API.
type base struct {
	API
	spec   Spec
	ncpu   int
	id     uint32
	frozen atomic.Bool
	impl   mapImpl
}

func newBase(spec Spec, opts Options) *base {
	return &base{spec: spec, ncpu: opts.numCPU(), id: mapIDs.Add(1)}
}

// init finishes a map: impl is the concrete map embedding b.
func (b *base) init(impl interface {
	mapImpl
	Raw
}) {
	b.impl = impl
	b.API = NewAPI(impl)
}

func (b *base) Name() string       { return b.spec.Name }
func (b *base) Type() ebpf.MapType { return b.spec.Type }
func (b *base) KeySize() uint32    { return b.spec.KeySize }
func (b *base) ValueSize() uint32  { return b.spec.ValueSize }
func (b *base) MaxEntries() uint32 { return b.spec.MaxEntries }
func (b *base) Flags() uint32      { return b.spec.Flags }

// Spec returns the spec the map was created from.
func (b *base) Spec() Spec { return b.spec }

// ID is a process-wide unique map id, as the kernel's map ids (what a
// user-space lookup in a map of maps returns).
func (b *base) ID() uint32 { return b.id }

// NumCPU is the number of per-CPU values.
func (b *base) NumCPU() int { return b.ncpu }

func (b *base) percpu() bool {
	switch b.spec.Type {
	case ebpf.PerCPUArray, ebpf.PerCPUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// sysValueSize is the size of a value as user space passes it.
func (b *base) sysValueSize() int {
	if b.percpu() {
		return int(roundUp8(b.spec.ValueSize)) * b.ncpu
	}
	switch b.spec.Type {
	case ebpf.RingBuf:
		return 0
	}
	return int(b.spec.ValueSize)
}

func (b *base) fail(op string, e syscall.Errno, detail string) error {
	return &MapError{Map: b.spec.Name, Op: op, Errno: e, Detail: detail}
}

func (b *base) checkKey(op string, key []byte) error {
	if len(key) != int(b.spec.KeySize) {
		return b.fail(op, errno.EINVAL, "key has "+itoa(len(key))+" bytes, map has "+itoa(int(b.spec.KeySize)))
	}
	return nil
}

// canWrite is map_get_sys_perms: read-only and frozen maps refuse user
// space writes with EPERM.
func (b *base) canWrite(op string) error {
	if b.spec.Flags&FlagRdonly != 0 || b.frozen.Load() {
		return b.fail(op, errno.EPERM, "map is read-only to user space")
	}
	return nil
}

func (b *base) canRead(op string) error {
	if b.spec.Flags&FlagWronly != 0 {
		return b.fail(op, errno.EPERM, "map is write-only to user space")
	}
	return nil
}

func (b *base) LookupBytes(key []byte) ([]byte, error) {
	if err := b.canRead("lookup"); err != nil {
		return nil, err
	}
	if err := b.checkKey("lookup", key); err != nil {
		return nil, err
	}
	v, e := b.impl.sysLookup(key)
	if e != 0 {
		return nil, b.fail("lookup", e, "")
	}
	return v, nil
}

func (b *base) UpdateBytes(key, value []byte, flags uint64) error {
	if err := b.canWrite("update"); err != nil {
		return err
	}
	if err := b.checkKey("update", key); err != nil {
		return err
	}
	if len(value) != b.sysValueSize() {
		return b.fail("update", errno.EINVAL, "value has "+itoa(len(value))+" bytes, map takes "+itoa(b.sysValueSize()))
	}
	if flags&UpdateLock != 0 && b.spec.SpinLockOff == 0 {
		return b.fail("update", errno.EINVAL, "BPF_F_LOCK on a value without bpf_spin_lock")
	}
	if e := b.impl.sysUpdate(key, value, flags); e != 0 {
		return b.fail("update", e, "")
	}
	return nil
}

func (b *base) DeleteBytes(key []byte) error {
	if err := b.canWrite("delete"); err != nil {
		return err
	}
	if err := b.checkKey("delete", key); err != nil {
		return err
	}
	if e := b.impl.sysDelete(key); e != 0 {
		return b.fail("delete", e, "")
	}
	return nil
}

func (b *base) NextKeyBytes(key, next []byte) error {
	if key != nil {
		if err := b.checkKey("next key", key); err != nil {
			return err
		}
	}
	if len(next) != int(b.spec.KeySize) {
		return b.fail("next key", errno.EINVAL, "output key has "+itoa(len(next))+" bytes")
	}
	if e := b.impl.nextKey(key, next); e != 0 {
		return b.fail("next key", e, "")
	}
	return nil
}

// Freeze is BPF_MAP_FREEZE. Freezing needs write permission, which a
// frozen or BPF_F_RDONLY map no longer has: EPERM (the kernel checks that
// before its "already frozen" EBUSY).
func (b *base) Freeze() error {
	if err := b.canWrite("freeze"); err != nil {
		return err
	}
	if !b.frozen.CompareAndSwap(false, true) {
		return b.fail("freeze", errno.EBUSY, "already frozen")
	}
	return nil
}

// Frozen reports whether Freeze was called.
func (b *base) Frozen() bool { return b.frozen.Load() }

// progWritable is whether programs may write the values (not for
// BPF_F_RDONLY_PROG maps such as .rodata).
func (b *base) progWritable() bool { return b.spec.Flags&FlagRdonlyProg == 0 }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
