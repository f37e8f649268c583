// Package asmtext assembles the textual BPF assembly of the bpf_conformance
// test vectors ("mov %r0, 1", "ldxw %r1, [%r2+4]", "lock fetch add ...")
// into cilium/ebpf instructions, by way of the wire encoding so that the
// same decoding path as for ELF programs is exercised.
package asmtext

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/asm"
)

// Insn is one 8-byte instruction slot in wire form.
type Insn struct {
	Op  uint8
	Dst uint8
	Src uint8
	Off int16
	Imm int32
}

// Word packs the slot as the 64-bit little-endian word of the "-- raw"
// section (opcode in the lowest byte).
func (i Insn) Word() uint64 {
	return uint64(i.Op) | uint64(i.Dst&0xf)<<8 | uint64(i.Src&0xf)<<12 |
		uint64(uint16(i.Off))<<16 | uint64(uint32(i.Imm))<<32
}

// Bytes encodes slots to the little-endian wire format.
func Bytes(slots []Insn) []byte {
	out := make([]byte, 8*len(slots))
	for i, s := range slots {
		binary.LittleEndian.PutUint64(out[8*i:], s.Word())
	}
	return out
}

// Instructions decodes wire bytes with cilium/ebpf, as its ELF reader does.
func Instructions(b []byte) (asm.Instructions, error) {
	return asm.AppendInstructions(nil, bytes.NewReader(b), binary.LittleEndian, "linux")
}

// FromWords decodes "-- raw" words.
func FromWords(words []uint64) (asm.Instructions, error) {
	b := make([]byte, 8*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return Instructions(b)
}

// Assemble translates source to instructions.
func Assemble(src string) (asm.Instructions, error) {
	slots, err := Encode(src)
	if err != nil {
		return nil, err
	}
	return Instructions(Bytes(slots))
}

var aluOps = map[string]uint8{
	"add": 0x0, "sub": 0x1, "mul": 0x2, "div": 0x3, "sdiv": 0x3, "or": 0x4,
	"and": 0x5, "lsh": 0x6, "rsh": 0x7, "neg": 0x8, "mod": 0x9, "smod": 0x9,
	"xor": 0xa, "mov": 0xb, "arsh": 0xc,
}

var jmpOps = map[string]uint8{
	"jeq": 0x1, "jgt": 0x2, "jge": 0x3, "jset": 0x4, "jne": 0x5, "jsgt": 0x6,
	"jsge": 0x7, "jlt": 0xa, "jle": 0xb, "jslt": 0xc, "jsle": 0xd,
}

var sizes = map[string]uint8{"w": 0x00, "h": 0x08, "b": 0x10, "dw": 0x18}

var atomicOps = map[string]int32{
	"add": 0x00, "or": 0x40, "and": 0x50, "xor": 0xa0, "xchg": 0xe1, "cmpxchg": 0xf1,
}

type fixup struct {
	slot  int
	label string
	call  bool
	line  int
}

// Encode translates source to wire slots.
func Encode(src string) ([]Insn, error) {
	var out []Insn
	labels := map[string]int{}
	var fixups []fixup
	sc := bufio.NewScanner(strings.NewReader(src))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasSuffix(line, ":") {
			name := strings.TrimSuffix(line, ":")
			if _, dup := labels[name]; dup {
				return nil, fmt.Errorf("line %d: duplicate label %q", lineNo, name)
			}
			labels[name] = len(out)
			continue
		}
		mn, rest, _ := strings.Cut(line, " ")
		var ops []string
		for _, f := range strings.Split(rest, ",") {
			if f = strings.TrimSpace(f); f != "" {
				ops = append(ops, f)
			}
		}
		if mn == "exit" {
			if _, ok := labels["exit"]; !ok {
				// Jumps to "exit" go to the first exit, as in the suite.
				labels["exit"] = len(out)
			}
		}
		insns, fx, err := encodeOne(mn, ops)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: %w", lineNo, line, err)
		}
		if fx != nil {
			fx.slot = len(out)
			fx.line = lineNo
			fixups = append(fixups, *fx)
		}
		out = append(out, insns...)
	}
	for _, f := range fixups {
		t, ok := labels[f.label]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown label %q", f.line, f.label)
		}
		rel := t - f.slot - 1
		switch {
		case f.call || out[f.slot].Op == 0x06: // call local, ja32
			out[f.slot].Imm = int32(rel)
		default:
			out[f.slot].Off = int16(rel)
		}
	}
	return out, nil
}

func reg(s string) (uint8, error) {
	if !strings.HasPrefix(s, "%r") {
		return 0, fmt.Errorf("not a register: %q", s)
	}
	n, err := strconv.ParseUint(s[2:], 10, 8)
	if err != nil || n > 15 {
		return 0, fmt.Errorf("bad register %q", s)
	}
	return uint8(n), nil
}

// Num parses an immediate the way the suite's assembler does: decimal or
// 0x hex, with an optional sign, wrapping to 64 bits.
func Num(s string) (uint64, error) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	var v uint64
	var err error
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		v, err = strconv.ParseUint(s[2:], 16, 64)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	if neg {
		v = -v
	}
	return v, nil
}

func mem(s string) (uint8, int16, error) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return 0, 0, fmt.Errorf("bad memory operand %q", s)
	}
	s = s[1 : len(s)-1]
	i := strings.IndexAny(s, "+-")
	if i < 0 {
		r, err := reg(s)
		return r, 0, err
	}
	r, err := reg(s[:i])
	if err != nil {
		return 0, 0, err
	}
	off, err := Num(s[i:])
	return r, int16(off), err
}

func target(s string) (int16, *fixup) {
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		if v, err := Num(s); err == nil {
			return int16(v), nil
		}
	}
	return 0, &fixup{label: s}
}

func want(ops []string, n int) error {
	if len(ops) != n {
		return fmt.Errorf("want %d operands, got %d", n, len(ops))
	}
	return nil
}

func encodeOne(mn string, ops []string) ([]Insn, *fixup, error) {
	var in Insn
	switch {
	case mn == "exit":
		return []Insn{{Op: 0x95}}, nil, want(ops, 0)
	case mn == "lddw":
		if err := want(ops, 2); err != nil {
			return nil, nil, err
		}
		d, err := reg(ops[0])
		if err != nil {
			return nil, nil, err
		}
		v, err := Num(ops[1])
		if err != nil {
			return nil, nil, err
		}
		return []Insn{{Op: 0x18, Dst: d, Imm: int32(uint32(v))}, {Imm: int32(uint32(v >> 32))}}, nil, nil
	case mn == "ja" || mn == "ja32":
		if err := want(ops, 1); err != nil {
			return nil, nil, err
		}
		off, fx := target(ops[0])
		if mn == "ja32" {
			return []Insn{{Op: 0x06, Imm: int32(off)}}, fx, nil
		}
		return []Insn{{Op: 0x05, Off: off}}, fx, nil
	case mn == "call":
		switch {
		case len(ops) == 1 && strings.HasPrefix(ops[0], "%"):
			r, err := reg(ops[0])
			return []Insn{{Op: 0x8d, Dst: r}}, nil, err
		case len(ops) == 1 && strings.HasPrefix(ops[0], "local "):
			return []Insn{{Op: 0x85, Src: 1}}, &fixup{label: strings.TrimSpace(ops[0][6:]), call: true}, nil
		case len(ops) == 1:
			v, err := Num(ops[0])
			return []Insn{{Op: 0x85, Imm: int32(v)}}, nil, err
		}
		return nil, nil, fmt.Errorf("bad call")
	case mn == "lock":
		return encodeAtomic(ops)
	case strings.HasPrefix(mn, "ldx"):
		if err := want(ops, 2); err != nil {
			return nil, nil, err
		}
		mode, sz := uint8(0x60), mn[3:]
		if strings.HasPrefix(sz, "s") {
			mode, sz = 0x80, sz[1:]
		}
		s, ok := sizes[sz]
		if !ok {
			return nil, nil, fmt.Errorf("bad size")
		}
		d, err := reg(ops[0])
		if err != nil {
			return nil, nil, err
		}
		b, off, err := mem(ops[1])
		return []Insn{{Op: mode | s | 0x01, Dst: d, Src: b, Off: off}}, nil, err
	case strings.HasPrefix(mn, "stx") || strings.HasPrefix(mn, "st"):
		if err := want(ops, 2); err != nil {
			return nil, nil, err
		}
		isX := strings.HasPrefix(mn, "stx")
		sz := strings.TrimPrefix(strings.TrimPrefix(mn, "stx"), "st")
		if isX {
			sz = mn[3:]
		}
		s, ok := sizes[sz]
		if !ok {
			return nil, nil, fmt.Errorf("bad size")
		}
		b, off, err := mem(ops[0])
		if err != nil {
			return nil, nil, err
		}
		in = Insn{Dst: b, Off: off}
		if isX {
			in.Op = 0x60 | s | 0x03
			in.Src, err = reg(ops[1])
		} else {
			in.Op = 0x60 | s | 0x02
			var v uint64
			v, err = Num(ops[1])
			in.Imm = int32(v)
		}
		return []Insn{in}, nil, err
	}
	// Byte order.
	for _, p := range []struct {
		prefix string
		op     uint8
	}{{"be", 0xdc}, {"le", 0xd4}, {"bswap", 0xd7}, {"swap", 0xd7}} {
		if w, ok := strings.CutPrefix(mn, p.prefix); ok && (w == "16" || w == "32" || w == "64") {
			d, err := reg(ops[0])
			n, _ := strconv.Atoi(w)
			return []Insn{{Op: p.op, Dst: d, Imm: int32(n)}}, nil, err
		}
	}
	base, is32 := strings.CutSuffix(mn, "32")
	// movsx{8,16,32}{32,64}
	if rest, ok := strings.CutPrefix(mn, "movsx"); ok {
		cls := uint8(0x07)
		var bitsStr string
		switch {
		case strings.HasSuffix(rest, "64"):
			bitsStr = strings.TrimSuffix(rest, "64")
		case strings.HasSuffix(rest, "32"):
			cls, bitsStr = 0x04, strings.TrimSuffix(rest, "32")
		default:
			return nil, nil, fmt.Errorf("bad movsx")
		}
		n, err := strconv.Atoi(bitsStr)
		if err != nil {
			return nil, nil, fmt.Errorf("bad movsx")
		}
		if err := want(ops, 2); err != nil {
			return nil, nil, err
		}
		d, err := reg(ops[0])
		if err != nil {
			return nil, nil, err
		}
		s, err := reg(ops[1])
		return []Insn{{Op: 0xb0 | 0x08 | cls, Dst: d, Src: s, Off: int16(n)}}, nil, err
	}
	if a, ok := aluOps[base]; ok {
		in.Op = a<<4 | 0x07
		if is32 {
			in.Op = a<<4 | 0x04
		}
		if base == "sdiv" || base == "smod" {
			in.Off = 1
		}
		if len(ops) < 1 || len(ops) > 2 {
			return nil, nil, fmt.Errorf("bad operand count")
		}
		d, err := reg(ops[0])
		if err != nil {
			return nil, nil, err
		}
		in.Dst = d
		if len(ops) == 2 {
			if strings.HasPrefix(ops[1], "%") {
				in.Op |= 0x08
				in.Src, err = reg(ops[1])
			} else {
				var v uint64
				v, err = Num(ops[1])
				in.Imm = int32(v)
			}
		}
		return []Insn{in}, nil, err
	}
	if j, ok := jmpOps[base]; ok {
		if err := want(ops, 3); err != nil {
			return nil, nil, err
		}
		in.Op = j<<4 | 0x05
		if is32 {
			in.Op = j<<4 | 0x06
		}
		d, err := reg(ops[0])
		if err != nil {
			return nil, nil, err
		}
		in.Dst = d
		if strings.HasPrefix(ops[1], "%") {
			in.Op |= 0x08
			in.Src, err = reg(ops[1])
		} else {
			var v uint64
			v, err = Num(ops[1])
			in.Imm = int32(v)
		}
		off, fx := target(ops[2])
		in.Off = off
		return []Insn{in}, fx, err
	}
	return nil, nil, fmt.Errorf("unknown mnemonic %q", mn)
}

// encodeAtomic handles "lock [fetch] op[32] [%rD+off], %rS".
func encodeAtomic(ops []string) ([]Insn, *fixup, error) {
	if len(ops) != 2 {
		return nil, nil, fmt.Errorf("bad lock operands")
	}
	words := strings.Fields(ops[0])
	if len(words) < 2 {
		return nil, nil, fmt.Errorf("bad lock operands")
	}
	fetch := false
	if words[0] == "fetch" {
		fetch, words = true, words[1:]
	}
	if len(words) != 2 {
		return nil, nil, fmt.Errorf("bad lock operands")
	}
	name, is32 := strings.CutSuffix(words[0], "32")
	imm, ok := atomicOps[name]
	if !ok {
		return nil, nil, fmt.Errorf("unknown atomic %q", words[0])
	}
	if fetch {
		imm |= 0x01
	}
	d, off, err := mem(words[1])
	if err != nil {
		return nil, nil, err
	}
	s, err := reg(ops[1])
	op := uint8(0xdb)
	if is32 {
		op = 0xc3
	}
	return []Insn{{Op: op, Dst: d, Src: s, Off: off, Imm: imm}}, nil, err
}
