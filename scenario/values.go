package scenario

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
)

// EncodeValue encodes a key or value written as space-separated typed
// fields: u8:N u16:N u32:N u64:N (host order, which skmsg and the kernels it
// mirrors take as little endian), be16:N be32:N, ip4:A, ip6:A, hex:HEX.
func EncodeValue(text string) ([]byte, error) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return nil, fmt.Errorf("empty value (expected fields such as u32:0)")
	}
	var out []byte
	for _, f := range fields {
		typ, arg, ok := strings.Cut(f, ":")
		if !ok {
			return nil, fmt.Errorf("field %q has no type (expected TYPE:VALUE with TYPE one of u8, u16, u32, u64, be16, be32, ip4, ip6, hex)", f)
		}
		switch typ {
		case "u8", "u16", "u32", "u64", "be16", "be32":
			bits := map[string]int{"u8": 8, "u16": 16, "u32": 32, "u64": 64, "be16": 16, "be32": 32}[typ]
			v, err := parseInt(arg, bits)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f, err)
			}
			switch typ {
			case "u8":
				out = append(out, byte(v))
			case "u16":
				out = binary.LittleEndian.AppendUint16(out, uint16(v))
			case "u32":
				out = binary.LittleEndian.AppendUint32(out, uint32(v))
			case "u64":
				out = binary.LittleEndian.AppendUint64(out, v)
			case "be16":
				out = binary.BigEndian.AppendUint16(out, uint16(v))
			case "be32":
				out = binary.BigEndian.AppendUint32(out, uint32(v))
			}
		case "ip4", "ip6":
			a, err := netip.ParseAddr(arg)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f, err)
			}
			if typ == "ip4" {
				if !a.Is4() {
					return nil, fmt.Errorf("field %q: not an IPv4 address", f)
				}
				b := a.As4()
				out = append(out, b[:]...)
			} else {
				if !a.Is6() {
					return nil, fmt.Errorf("field %q: not an IPv6 address", f)
				}
				b := a.As16()
				out = append(out, b[:]...)
			}
		case "hex":
			b, err := hex.DecodeString(arg)
			if err != nil || len(arg) == 0 {
				return nil, fmt.Errorf("field %q: invalid hex (expected an even number of hex digits)", f)
			}
			out = append(out, b...)
		default:
			return nil, fmt.Errorf("field %q: unknown type %q (expected one of u8, u16, u32, u64, be16, be32, ip4, ip6, hex)", f, typ)
		}
	}
	return out, nil
}

// parseInt parses decimal or 0x hex; a negative decimal is taken in two's
// complement. The value must fit in bits.
func parseInt(s string, bits int) (uint64, error) {
	if strings.HasPrefix(s, "-") {
		v, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return 0, fmt.Errorf("%q does not fit a signed %d-bit number", s, bits)
		}
		return uint64(v) & mask(bits), nil
	}
	base := 10
	digits := s
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		base, digits = 16, s[2:]
	}
	v, err := strconv.ParseUint(digits, base, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not a %d-bit number (decimal or 0x hex)", s, bits)
	}
	return v, nil
}

func mask(bits int) uint64 {
	if bits == 64 {
		return math.MaxUint64
	}
	return 1<<bits - 1
}

var patternNames = map[string]Pattern{"seq": PatternSeq, "zero": PatternZero, "random": PatternRandom}

func (p Pattern) String() string {
	for n, v := range patternNames {
		if v == p {
			return n
		}
	}
	return "none"
}

// Bytes returns the payload's bytes; patterns start at their own offset 0.
func (p *Payload) Bytes(seed uint64) []byte {
	if p.Pattern == PatternNone {
		return p.Data
	}
	return PatternBytes(p.Pattern, p.Size, seed)
}

// PatternBytes generates n bytes of a pattern. random is Go's ChaCha8 whose
// 32-byte seed holds seed as a little-endian uint64 in bytes 0–7.
func PatternBytes(p Pattern, n int, seed uint64) []byte {
	b := make([]byte, n)
	switch p {
	case PatternSeq:
		for i := range b {
			b[i] = byte(i)
		}
	case PatternRandom:
		var s [32]byte
		binary.LittleEndian.PutUint64(s[:8], seed)
		_, _ = rand.NewChaCha8(s).Read(b)
	}
	return b
}
