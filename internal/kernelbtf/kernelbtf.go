// Package kernelbtf holds the BTF of the kernel-internal types skmsg backs
// with memory: struct sock and the structs around it (sock_common,
// inet_sock, inet_connection_sock, tcp_sock, tcp6_sock, ...) and
// task_struct, as laid out by the kernel the data was generated on.
//
// kernel.btf is generated from /sys/kernel/btf/vmlinux by ./gen
// (`go generate ./internal/kernelbtf`) and minimised: every type a root
// holds by value is whole, so sizes and member offsets are the kernel's,
// while pointers to types outside the set point to forward declarations.
// The loader resolves CO-RE relocations against it, and the runtime lays
// out the memory behind bpf_skc_to_tcp_sock, bpf_get_current_task_btf and
// the like at these offsets.
package kernelbtf

//go:generate go run ./gen -o kernel.btf

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"
)

//go:embed kernel.btf
var raw []byte

var load = sync.OnceValues(func() (*btf.Spec, error) {
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("embedded kernel BTF: %w", err)
	}
	return spec, nil
})

// Spec returns the embedded kernel BTF.
func Spec() (*btf.Spec, error) { return load() }

// Raw is the embedded BTF as generated.
func Raw() []byte { return raw }

// Struct is the layout of one kernel struct.
type Struct struct {
	Name string
	Size int
	typ  *btf.Struct
}

var structs sync.Map // name -> *Struct

// Lookup returns the layout of struct name.
func Lookup(name string) (*Struct, error) {
	if s, ok := structs.Load(name); ok {
		return s.(*Struct), nil
	}
	spec, err := Spec()
	if err != nil {
		return nil, err
	}
	var t *btf.Struct
	if err := spec.TypeByName(name, &t); err != nil {
		return nil, fmt.Errorf("kernel BTF: struct %s: %w", name, err)
	}
	s := &Struct{Name: name, Size: int(t.Size), typ: t}
	structs.Store(name, s)
	return s, nil
}

// Field is where a member lives inside a struct.
type Field struct {
	Offset int // bytes from the start of the struct
	Size   int // bytes
}

// Field finds member path ("inet_conn.icsk_inet.sk.__sk_common.skc_family")
// in s. Members of anonymous structs and unions are found by name as in
// C, without naming the anonymous member. Bitfields are refused.
func (s *Struct) Field(path string) (Field, error) {
	var typ btf.Type = s.typ
	off := 0
	for _, name := range strings.Split(path, ".") {
		m, moff, ok := findMember(typ, name)
		if !ok {
			return Field{}, fmt.Errorf("kernel BTF: struct %s has no member %s", s.Name, path)
		}
		if m.BitfieldSize != 0 {
			return Field{}, fmt.Errorf("kernel BTF: %s.%s is a bitfield", s.Name, path)
		}
		off += moff
		typ = m.Type
	}
	size, err := btf.Sizeof(typ)
	if err != nil {
		return Field{}, fmt.Errorf("kernel BTF: size of %s.%s: %w", s.Name, path, err)
	}
	return Field{Offset: off, Size: size}, nil
}

// findMember looks name up among typ's members, descending into anonymous
// members; the offset is in bytes from typ's start.
func findMember(typ btf.Type, name string) (btf.Member, int, bool) {
	var members []btf.Member
	switch t := btf.UnderlyingType(typ).(type) {
	case *btf.Struct:
		members = t.Members
	case *btf.Union:
		members = t.Members
	default:
		return btf.Member{}, 0, false
	}
	for _, m := range members {
		if m.Name == name {
			return m, int(m.Offset.Bytes()), true
		}
	}
	for _, m := range members {
		if m.Name != "" {
			continue
		}
		if inner, off, ok := findMember(m.Type, name); ok {
			return inner, int(m.Offset.Bytes()) + off, true
		}
	}
	return btf.Member{}, 0, false
}

// Writer fills a struct's memory at the kernel's offsets.
type Writer struct {
	S   *Struct
	Buf []byte
	// Err is the first error met (an unknown member, a value too wide);
	// later writes are skipped.
	Err error
}

// NewWriter returns a writer over a zeroed buffer of the struct's size.
func (s *Struct) NewWriter() *Writer { return &Writer{S: s, Buf: make([]byte, s.Size)} }

// Put stores v in member path, in the width of the member (1, 2, 4 or 8
// bytes, little-endian as on the kernels skmsg emulates).
func (w *Writer) Put(path string, v uint64) {
	if w.Err != nil {
		return
	}
	f, err := w.S.Field(path)
	if err != nil {
		w.Err = err
		return
	}
	b := w.Buf[f.Offset : f.Offset+f.Size]
	switch f.Size {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(b, v)
	default:
		w.Err = fmt.Errorf("kernel BTF: %s.%s is %d bytes, not an integer", w.S.Name, path, f.Size)
	}
}

// PutBytes copies b into member path (an array such as comm or an
// address); b may be shorter than the member.
func (w *Writer) PutBytes(path string, b []byte) {
	if w.Err != nil {
		return
	}
	f, err := w.S.Field(path)
	if err != nil {
		w.Err = err
		return
	}
	if len(b) > f.Size {
		w.Err = fmt.Errorf("kernel BTF: %d bytes do not fit %s.%s (%d bytes)", len(b), w.S.Name, path, f.Size)
		return
	}
	copy(w.Buf[f.Offset:], b)
}
