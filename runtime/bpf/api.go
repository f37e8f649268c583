package bpf

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/skmsg/skmsg/vm"
)

// API is the typed, cilium/ebpf-shaped interface of a map, built on its
// Raw interface. Keys and values may be []byte, fixed-size integers,
// structs and arrays of those (host byte order, as encoding/binary
// encodes them), or encoding.BinaryMarshaler/Unmarshaler values. Per-CPU
// maps take and return a slice with one element per CPU. A map of maps
// takes a Map value, a program array a *vm.Program.
type API struct{ raw Raw }

// NewAPI returns the typed API of r; maps implemented outside this
// package embed it.
func NewAPI(r Raw) API { return API{raw: r} }

// Queue is implemented by queue and stack maps.
type Queue interface {
	Push(value []byte, flags uint64) error
	Pop(valueOut []byte) error
	Peek(valueOut []byte) error
}

// InnerSetter is implemented by maps of maps.
type InnerSetter interface {
	SetInner(key []byte, inner Map, flags uint64) error
	Inner(key []byte) (Map, error)
}

// ProgramSetter is implemented by program arrays.
type ProgramSetter interface {
	SetProgram(index uint32, p *vm.Program, flags uint64) error
	Program(index uint32) *vm.Program
}

func isPerCPU(r Raw) bool {
	if b, ok := r.(interface{ percpu() bool }); ok {
		return b.percpu()
	}
	return false
}

func numCPU(r Raw) int {
	if b, ok := r.(interface{ NumCPU() int }); ok {
		return b.NumCPU()
	}
	return 1
}

// Lookup copies the value under key into valueOut.
func (a API) Lookup(key, valueOut any) error {
	k, err := marshal(key, int(a.raw.KeySize()))
	if err != nil {
		return fmt.Errorf("map %s: lookup: key: %w", a.raw.Name(), err)
	}
	switch out := valueOut.(type) {
	case *Map:
		is, ok := a.raw.(InnerSetter)
		if !ok {
			return fmt.Errorf("map %s: lookup: %s does not hold maps", a.raw.Name(), a.raw.Type())
		}
		m, err := is.Inner(k)
		if err != nil {
			return err
		}
		*out = m
		return nil
	case **vm.Program:
		ps, ok := a.raw.(ProgramSetter)
		if !ok {
			return fmt.Errorf("map %s: lookup: %s does not hold programs", a.raw.Name(), a.raw.Type())
		}
		idx, err := index(a.raw, k)
		if err != nil {
			return err
		}
		p := ps.Program(idx)
		if p == nil {
			return &MapError{Map: a.raw.Name(), Op: "lookup", Errno: errno.ENOENT}
		}
		*out = p
		return nil
	}
	v, err := a.raw.LookupBytes(k)
	if err != nil {
		return err
	}
	if sp, ok := a.raw.(interface{ Spec() Spec }); ok && sp.Spec().SpinLockOff != 0 {
		// As the kernel's copy to user space, a lookup shows the lock
		// word as zero.
		v = append([]byte(nil), v...)
		off := sp.Spec().SpinLockOff - 1
		clear(v[off : off+4])
	}
	return a.unmarshalValue(v, valueOut)
}

// LookupAndDelete pops a queue or stack (key nil), or looks up and
// deletes key.
func (a API) LookupAndDelete(key, valueOut any) error {
	if q, ok := a.raw.(Queue); ok && key == nil {
		buf := make([]byte, a.raw.ValueSize())
		if err := q.Pop(buf); err != nil {
			return err
		}
		return unmarshal(buf, valueOut)
	}
	k, err := marshal(key, int(a.raw.KeySize()))
	if err != nil {
		return fmt.Errorf("map %s: lookup and delete: key: %w", a.raw.Name(), err)
	}
	v, err := a.raw.LookupBytes(k)
	if err != nil {
		return err
	}
	v = append([]byte(nil), v...)
	if err := a.raw.DeleteBytes(k); err != nil {
		return err
	}
	return a.unmarshalValue(v, valueOut)
}

func (a API) unmarshalValue(v []byte, valueOut any) error {
	if !isPerCPU(a.raw) {
		return unmarshal(v, valueOut)
	}
	if p, ok := valueOut.(*[]byte); ok {
		*p = append((*p)[:0], v...)
		return nil
	}
	// A pointer to a slice gets one element per CPU.
	rv := reflect.ValueOf(valueOut)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Slice {
		return fmt.Errorf("map %s: per-CPU values need a pointer to a slice, got %T", a.raw.Name(), valueOut)
	}
	n := numCPU(a.raw)
	stride := int(roundUp8(a.raw.ValueSize()))
	s := reflect.MakeSlice(rv.Elem().Type(), n, n)
	for i := 0; i < n; i++ {
		if err := unmarshal(v[i*stride:i*stride+int(a.raw.ValueSize())], s.Index(i).Addr().Interface()); err != nil {
			return fmt.Errorf("map %s: cpu %d: %w", a.raw.Name(), i, err)
		}
	}
	rv.Elem().Set(s)
	return nil
}

// Put is Update with BPF_ANY.
func (a API) Put(key, value any) error { return a.Update(key, value, UpdateAny) }

// Update stores value under key with the kernel's flags.
func (a API) Update(key, value any, flags uint64) error {
	if q, ok := a.raw.(Queue); ok && key == nil {
		v, err := marshal(value, int(a.raw.ValueSize()))
		if err != nil {
			return fmt.Errorf("map %s: push: value: %w", a.raw.Name(), err)
		}
		return q.Push(v, flags)
	}
	k, err := marshal(key, int(a.raw.KeySize()))
	if err != nil {
		return fmt.Errorf("map %s: update: key: %w", a.raw.Name(), err)
	}
	switch v := value.(type) {
	case Map:
		is, ok := a.raw.(InnerSetter)
		if !ok {
			return fmt.Errorf("map %s: update: %s does not hold maps", a.raw.Name(), a.raw.Type())
		}
		return is.SetInner(k, v, flags)
	case *vm.Program:
		ps, ok := a.raw.(ProgramSetter)
		if !ok {
			return fmt.Errorf("map %s: update: %s does not hold programs", a.raw.Name(), a.raw.Type())
		}
		idx, err := index(a.raw, k)
		if err != nil {
			return err
		}
		return ps.SetProgram(idx, v, flags)
	}
	var vb []byte
	if isPerCPU(a.raw) {
		vb, err = marshalPerCPU(value, int(a.raw.ValueSize()), numCPU(a.raw))
	} else {
		vb, err = marshal(value, int(a.raw.ValueSize()))
	}
	if err != nil {
		return fmt.Errorf("map %s: update: value: %w", a.raw.Name(), err)
	}
	return a.raw.UpdateBytes(k, vb, flags)
}

// Delete removes key.
func (a API) Delete(key any) error {
	k, err := marshal(key, int(a.raw.KeySize()))
	if err != nil {
		return fmt.Errorf("map %s: delete: key: %w", a.raw.Name(), err)
	}
	return a.raw.DeleteBytes(k)
}

// NextKey writes the key after key (nil: the first) into nextKeyOut.
func (a API) NextKey(key, nextKeyOut any) error {
	var k []byte
	if key != nil {
		var err error
		if k, err = marshal(key, int(a.raw.KeySize())); err != nil {
			return fmt.Errorf("map %s: next key: key: %w", a.raw.Name(), err)
		}
	}
	next := make([]byte, a.raw.KeySize())
	if err := a.raw.NextKeyBytes(k, next); err != nil {
		return err
	}
	return unmarshal(next, nextKeyOut)
}

// Iterate walks the map in get_next_key order.
func (a API) Iterate() *Iterator { return &Iterator{api: a} }

func index(r Raw, k []byte) (uint32, error) {
	if len(k) != 4 {
		return 0, &MapError{Map: r.Name(), Op: "update", Errno: errno.EINVAL, Detail: "index key must be 4 bytes"}
	}
	return binary.NativeEndian.Uint32(k), nil
}

// Iterator walks a map like cilium/ebpf's MapIterator.
type Iterator struct {
	api   API
	prev  []byte
	count int
	done  bool
	err   error
}

// ErrIterationAborted is returned when a map keeps changing under an
// iterator so that it cannot finish.
var ErrIterationAborted = errors.New("iteration aborted")

// Next decodes the next key and value; false at the end or on error.
func (it *Iterator) Next(keyOut, valueOut any) bool {
	r := it.api.raw
	limit := int(r.MaxEntries())*2 + 16
	for !it.done && it.err == nil {
		next := make([]byte, r.KeySize())
		err := r.NextKeyBytes(it.prev, next)
		if errors.Is(err, errno.ENOENT) {
			it.done = true
			return false
		}
		if err != nil {
			it.err = err
			return false
		}
		it.prev = next
		it.count++
		if it.count > limit && r.MaxEntries() != 0 {
			it.err = fmt.Errorf("map %s: %w", r.Name(), ErrIterationAborted)
			return false
		}
		err = it.api.Lookup(next, valueOut)
		if errors.Is(err, errno.ENOENT) {
			continue // deleted meanwhile
		}
		if err != nil {
			it.err = err
			return false
		}
		if err := unmarshal(next, keyOut); err != nil {
			it.err = err
			return false
		}
		return true
	}
	return false
}

// Err is the error that stopped Next, if any.
func (it *Iterator) Err() error { return it.err }

// marshal encodes v into exactly size bytes.
func marshal(v any, size int) ([]byte, error) {
	var b []byte
	switch x := v.(type) {
	case nil:
		if size == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("nil for %d bytes", size)
	case []byte:
		b = x
	case encoding.BinaryMarshaler:
		var err error
		if b, err = x.MarshalBinary(); err != nil {
			return nil, err
		}
	default:
		n := binary.Size(v)
		if n < 0 {
			return nil, fmt.Errorf("type %T has no fixed size", v)
		}
		var err error
		if b, err = binary.Append(make([]byte, 0, n), binary.NativeEndian, v); err != nil {
			return nil, err
		}
	}
	if len(b) != size {
		return nil, fmt.Errorf("%T is %d bytes, map needs %d", v, len(b), size)
	}
	return b, nil
}

func marshalPerCPU(v any, size, ncpu int) ([]byte, error) {
	stride := int(roundUp8(uint32(size)))
	out := make([]byte, stride*ncpu)
	if b, ok := v.([]byte); ok {
		if len(b) != len(out) {
			return nil, fmt.Errorf("per-CPU value of %d bytes, map needs %d", len(b), len(out))
		}
		return b, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil, fmt.Errorf("per-CPU values need a slice, got %T", v)
	}
	if rv.Len() > ncpu {
		return nil, fmt.Errorf("%d per-CPU values for %d CPUs", rv.Len(), ncpu)
	}
	for i := 0; i < rv.Len(); i++ {
		b, err := marshal(rv.Index(i).Interface(), size)
		if err != nil {
			return nil, fmt.Errorf("cpu %d: %w", i, err)
		}
		copy(out[i*stride:], b)
	}
	return out, nil
}

// unmarshal decodes b into out.
func unmarshal(b []byte, out any) error {
	switch x := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*x = append((*x)[:0], b...)
		return nil
	case []byte:
		if len(x) < len(b) {
			return fmt.Errorf("buffer of %d bytes for %d", len(x), len(b))
		}
		copy(x, b)
		return nil
	case encoding.BinaryUnmarshaler:
		return x.UnmarshalBinary(append([]byte(nil), b...))
	}
	n, err := binary.Decode(b, binary.NativeEndian, out)
	if err != nil {
		return fmt.Errorf("decode %T: %w", out, err)
	}
	if n != len(b) {
		return fmt.Errorf("%T is %d bytes, value has %d", out, n, len(b))
	}
	return nil
}
