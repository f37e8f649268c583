package scenario

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// field is one typed field of a value as written: its type and width.
type field struct {
	typ    string // u8 u16 u32 u64 be16 be32 ip4 ip6 hex
	size   int
	hexOut bool // the number was written in 0x hex
	signed bool // the number was written negative
}

// fieldsOf lists the fields of a value text that EncodeValue accepted.
func fieldsOf(text string) []field {
	var out []field
	for _, f := range strings.Fields(text) {
		typ, arg, _ := strings.Cut(f, ":")
		fl := field{typ: typ, hexOut: strings.HasPrefix(arg, "0x") || strings.HasPrefix(arg, "0X"), signed: strings.HasPrefix(arg, "-")}
		switch typ {
		case "u8":
			fl.size = 1
		case "u16", "be16":
			fl.size = 2
		case "u32", "be32", "ip4":
			fl.size = 4
		case "u64":
			fl.size = 8
		case "ip6":
			fl.size = 16
		case "hex":
			fl.size = len(arg) / 2
		}
		out = append(out, fl)
	}
	return out
}

// isInt says whether the field is an integer (summable) one.
func (f field) isInt() bool { return f.typ[0] == 'u' || f.typ[0] == 'b' }

func (f field) get(b []byte) uint64 {
	switch f.typ {
	case "u8":
		return uint64(b[0])
	case "u16":
		return uint64(binary.LittleEndian.Uint16(b))
	case "u32":
		return uint64(binary.LittleEndian.Uint32(b))
	case "u64":
		return binary.LittleEndian.Uint64(b)
	case "be16":
		return uint64(binary.BigEndian.Uint16(b))
	case "be32":
		return uint64(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (f field) put(b []byte, v uint64) {
	switch f.typ {
	case "u8":
		b[0] = byte(v)
	case "u16":
		binary.LittleEndian.PutUint16(b, uint16(v))
	case "u32":
		binary.LittleEndian.PutUint32(b, uint32(v))
	case "u64":
		binary.LittleEndian.PutUint64(b, v)
	case "be16":
		binary.BigEndian.PutUint16(b, uint16(v))
	case "be32":
		binary.BigEndian.PutUint32(b, uint32(v))
	}
}

func (f field) format(b []byte) string {
	switch {
	case f.isInt():
		v := f.get(b)
		switch {
		case f.hexOut:
			return fmt.Sprintf("%s:%#x", f.typ, v)
		case f.signed:
			shift := 64 - 8*f.size
			return fmt.Sprintf("%s:%d", f.typ, int64(v<<shift)>>shift)
		}
		return fmt.Sprintf("%s:%d", f.typ, v)
	case f.typ == "ip4" || f.typ == "ip6":
		a, _ := netip.AddrFromSlice(b)
		return f.typ + ":" + a.String()
	}
	return "hex:" + hex.EncodeToString(b)
}

// FormatLike writes b in the value syntax of text, the expected side of a
// comparison: the same field types in the same order (a number in 0x hex
// where text wrote it so, signed where text wrote it negative), so that
// "expected u64:2, got u64:1" reads field by field. Bytes beyond text's
// fields, or a value too short for them, are shown as hex.
func FormatLike(text string, b []byte) string {
	var out []string
	off := 0
	for _, f := range fieldsOf(text) {
		if f.size == 0 || off+f.size > len(b) {
			break
		}
		out = append(out, f.format(b[off:off+f.size]))
		off += f.size
	}
	if off < len(b) {
		out = append(out, "hex:"+hex.EncodeToString(b[off:]))
	}
	if len(out) == 0 {
		return "(empty)"
	}
	return strings.Join(out, " ")
}

// SumFields adds the values of every CPU field by field, as text's integer
// fields say (each wraps at its width), and returns the sum encoded like
// text. It fails for a text with a field that is not an integer.
func SumFields(text string, values [][]byte) ([]byte, error) {
	fields := fieldsOf(text)
	size := 0
	for _, f := range fields {
		if !f.isInt() {
			return nil, fmt.Errorf("sum: adds integer fields (u8 u16 u32 u64 be16 be32); %s is not one", f.typ)
		}
		size += f.size
	}
	out := make([]byte, size)
	for _, v := range values {
		if len(v) < size {
			return nil, fmt.Errorf("a per-CPU value has %d bytes, the sum's fields %d", len(v), size)
		}
		off := 0
		for _, f := range fields {
			f.put(out[off:], f.get(out[off:])+f.get(v[off:]))
			off += f.size
		}
	}
	return out, nil
}

// SumWords adds per-CPU values without a text to say their fields: one
// little-endian integer for a value of 1, 2, 4 or 8 bytes, else 8-byte
// words (4-byte words when the size is not a multiple of 8, bytes when
// not of 4). Comparisons of per-CPU maps across backends with different
// CPU counts compare these sums.
func SumWords(values [][]byte, size int) []byte {
	w := 1
	switch {
	case size == 1 || size == 2 || size == 4 || size%8 == 0:
		w = min(size, 8)
	case size%4 == 0:
		w = 4
	case size%2 == 0:
		w = 2
	}
	typ := map[int]string{1: "u8", 2: "u16", 4: "u32", 8: "u64"}[w]
	text := strings.TrimSpace(strings.Repeat(typ+":0 ", size/max(w, 1)))
	if size == 0 {
		return nil
	}
	out, _ := SumFields(text, values)
	return out
}
