package vm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/vm/internal/asmtext"
)

// conformanceTestsDir mirrors the conformance test's lookup.
func conformanceTestsDir() string {
	if d := os.Getenv("SKMSG_CONFORMANCE_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "shared", "conformance", "tests")
}

// validOpcodes are the wire opcodes the fuzzer builds programs from, so
// that most generated programs get past Prepare and exercise the machine.
var validOpcodes = func() []uint8 {
	var ops []uint8
	for op := uint8(0); op <= 0xc; op++ {
		for _, cls := range []uint8{clsALU, clsALU64} {
			ops = append(ops, op<<4|cls, op<<4|cls|srcX)
		}
	}
	ops = append(ops, 0xd4, 0xdc, 0xd7)
	for op := uint8(0); op <= 0xd; op++ {
		if op == 8 || op == 9 {
			continue
		}
		ops = append(ops, op<<4|clsJMP, op<<4|clsJMP|srcX, op<<4|clsJMP32, op<<4|clsJMP32|srcX)
	}
	ops = append(ops, 0x85, 0x85, 0x8d, 0x95, 0x95, 0x18)
	for _, sz := range []uint8{sizeB, sizeH, sizeW, sizeDW} {
		ops = append(ops, modeMEM|sz|clsLDX, modeMEM|sz|clsST, modeMEM|sz|clsSTX)
		if sz != sizeDW {
			ops = append(ops, modeMEMSX|sz|clsLDX)
		}
	}
	ops = append(ops, modeATOMIC|sizeW|clsSTX, modeATOMIC|sizeDW|clsSTX)
	return ops
}()

var atomicImms = []int32{0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, atomicXchg, atomicCmpXchg, atomicLoadAcq, atomicStRel}

// synthesize turns arbitrary bytes into a mostly well-formed program: 8
// input bytes per instruction, opcodes from the valid set, registers in
// range, jumps nearby, and an exit at the end.
func synthesize(in []byte) []byte {
	var out []byte
	n := len(in) / 8
	put := func(opc, regs uint8, off int16, imm int32) {
		var b [8]byte
		b[0], b[1] = opc, regs
		binary.LittleEndian.PutUint16(b[2:], uint16(off))
		binary.LittleEndian.PutUint32(b[4:], uint32(imm))
		out = append(out, b[:]...)
	}
	for i := 0; i < n; i++ {
		c := in[8*i : 8*i+8]
		opc := validOpcodes[int(c[0])%len(validOpcodes)]
		dst, src := c[1]%11, c[2]%11
		off := int16(int8(c[3]))
		imm := int32(binary.LittleEndian.Uint32(c[4:]))
		switch cls := opc & 7; {
		case opc == 0x18:
			put(opc, dst, 0, imm)
			put(0, 0, 0, int32(c[5])<<8)
			continue
		case opc == 0x85:
			if c[3]&1 == 0 {
				imm = []int32{1, 2, 5, 12, 6}[int(c[4])%5]
				src = 0
			} else {
				imm = int32(int8(c[4])) % 16
				src = 1
			}
			dst, off = 0, 0
		case opc == 0x8d:
			src, off, imm = 0, 0, 0
		case opc == 0x95:
			dst, src, off, imm = 0, 0, 0, 0
		case cls == clsALU || cls == clsALU64:
			off = []int16{0, 0, 0, 1, 8, 16, 32}[int(c[3])%7]
			if opc>>4 == 0xd {
				imm = []int32{16, 32, 64}[int(c[4])%3]
				src, off = 0, 0
			}
			if opc&srcX != 0 {
				imm = 0
			} else {
				src = 0
			}
			if opc>>4 == 0x8 {
				src, imm, off = 0, 0, 0
			}
		case cls == clsJMP || cls == clsJMP32:
			off = int16(int8(c[3])) % 8
			if opc&srcX != 0 {
				imm = 0
			} else {
				src = 0
			}
			if opc == 0x06 {
				imm, off = int32(off), 0
			}
		case opc&0xe0 == modeATOMIC:
			imm = atomicImms[int(c[4])%len(atomicImms)]
			off = int16(int8(c[3])) &^ 3
		case cls == clsLDX || cls == clsSTX:
			imm = 0
		}
		put(opc, src<<4|dst, off, imm)
	}
	put(0xb7, 0, 0, 0)
	put(0x95, 0, 0, 0)
	return out
}

type fuzzTracer struct{ steps int }

func (f *fuzzTracer) Step(s *Step) {
	f.steps++
	_ = fmt.Sprint(s.Insn)
}
func (f *fuzzTracer) Helper(*HelperCall) {}

func fuzzHelpers(progs *[]*Program) Helpers {
	return Helpers{
		1: {Name: "read", Fn: func(m *Machine, r1, r2, _, _, _ uint64) (uint64, error) {
			b, err := m.Bytes(r1, int(r2&0xff), PermRead)
			if err != nil {
				return 0, err
			}
			return uint64(len(b)), nil
		}},
		2: {Name: "write", Fn: func(m *Machine, r1, r2, r3, _, _ uint64) (uint64, error) {
			b, err := m.Bytes(r1, int(r2&0xff), PermWrite)
			if err != nil {
				return ^uint64(0), nil
			}
			for i := range b {
				b[i] = byte(r3)
			}
			return 0, nil
		}},
		5: {Name: "stop", Fn: func(m *Machine, r1, _, _, _, _ uint64) (uint64, error) {
			if r1 == 0 {
				return 0, ErrStop
			}
			return r1, nil
		}},
		6: {Name: "fail", Fn: func(m *Machine, r1, _, _, _, _ uint64) (uint64, error) {
			if r1&1 != 0 {
				return 0, errors.New("helper failed")
			}
			return m.AddRegion(Region{Name: "value", Data: make([]byte, 8), Perm: PermRW}), nil
		}},
		12: {Name: "tail_call", Fn: func(m *Machine, _, _, r3, _, _ uint64) (uint64, error) {
			if r3 >= uint64(len(*progs)) {
				return ^uint64(0), nil
			}
			if err := m.TailCall((*progs)[r3]); err != nil {
				return ^uint64(1), nil
			}
			return 0, nil
		}},
	}
}

const fuzzBudget = 20_000

func FuzzVM(f *testing.F) {
	seeds := [][]byte{
		{},
		bytes.Repeat([]byte{0x07, 1, 0, 0, 1, 0, 0, 0}, 4),
		// The conformance suite's style of programs, as raw words.
		{0xb7, 0x00, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0},
		{0x61, 0x10, 0, 0, 0, 0, 0, 0, 0x7b, 0x0a, 0xf8, 0xff, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0},
		{0xdb, 0x1a, 0xf8, 0xff, 0x01, 0, 0, 0, 0x05, 0, 0xfe, 0xff, 0, 0, 0, 0},
		{0x85, 0x10, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0, 0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0},
	}
	for i, s := range seeds {
		f.Add(s, []byte("0123456789abcdef"), uint8(i))
	}
	// The conformance programs, as raw programs (odd modes).
	files, _ := filepath.Glob(filepath.Join(conformanceTestsDir(), "*.data"))
	for i, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		_, src, ok := strings.Cut(string(text), "-- asm\n")
		if !ok {
			continue
		}
		src, _, _ = strings.Cut(src, "\n-- ")
		slots, err := asmtext.Encode(src)
		if err != nil {
			continue
		}
		f.Add(asmtext.Bytes(slots), []byte("0123456789abcdef0123456789abcdef"), uint8(2*i+1))
	}
	f.Fuzz(func(t *testing.T, code, mem []byte, mode uint8) {
		var raw []byte
		if mode&1 == 0 {
			raw = synthesize(code)
		} else {
			raw = code[:len(code)&^7]
		}
		insns, err := asm.AppendInstructions(nil, bytes.NewReader(raw), binary.LittleEndian, "linux")
		if err != nil {
			return
		}
		space := NewSpace()
		global := space.AddGlobal(Region{Name: ".bss", Data: make([]byte, 32), Perm: PermRW})
		var progs []*Program
		opts := Options{
			Helpers: fuzzHelpers(&progs),
			Budget:  fuzzBudget,
			ResolveImm64: func(pc int, ins asm.Instruction) (uint64, error) {
				if ins.Constant&1 != 0 {
					return 0, errors.New("unresolvable")
				}
				return global, nil
			},
		}
		if mode&2 != 0 {
			opts.CheckContext = func(pc int, off int32, size int, write, sx bool) error {
				if off < 0 || int(off)+size > len(mem) {
					return errors.New("outside the context")
				}
				return nil
			}
		}
		p, err := Prepare(space, "fuzz", insns, opts)
		if err != nil {
			var pe *ProgramError
			if !errors.As(err, &pe) {
				t.Fatalf("Prepare returned %T, not a *ProgramError: %v", err, err)
			}
			return
		}
		progs = append(progs, p)
		perm := Perm(mode>>2)&PermRW | PermRead

		runOnce := func(tr Tracer) (uint64, error, uint64, []byte) {
			m := space.NewMachine()
			m.SetTracer(tr)
			buf := append([]byte(nil), mem...)
			addr := m.AddRegion(Region{Name: "mem", Data: buf, Perm: perm})
			r0, err := m.RunArgs(p, [5]uint64{addr, uint64(len(buf))})
			return r0, err, m.Executed(), buf
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r0, err, n, buf := runOnce(nil)
		runtime.ReadMemStats(&after)
		// A run allocates in proportion to its budget and memory, never
		// what a register or an immediate asks for.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(64*len(mem))+16<<20 {
			t.Fatalf("a run over %d bytes of memory allocated %d bytes", len(mem), grew)
		}
		if errors.Is(err, errInternalFail) {
			t.Fatalf("interpreter panicked: %v", err)
		}
		if n > fuzzBudget {
			t.Fatalf("executed %d instructions, budget %d", n, fuzzBudget)
		}
		// The traced loop must agree with the fast one.
		tr := &fuzzTracer{}
		r0t, errt, nt, buft := runOnce(tr)
		if errors.Is(errt, errInternalFail) {
			t.Fatalf("traced interpreter panicked: %v", errt)
		}
		if r0 != r0t || n != nt || !bytes.Equal(buf, buft) || (err == nil) != (errt == nil) || err != nil && err.Error() != errt.Error() {
			t.Fatalf("traced run differs: r0 %#x/%#x executed %d/%d err %v / %v", r0, r0t, n, nt, err, errt)
		}
		if uint64(tr.steps) != nt {
			t.Fatalf("tracer saw %d steps, executed %d", tr.steps, nt)
		}
	})
}

// FuzzPrepare feeds Prepare instructions with arbitrary field values, as a
// careless caller building asm.Instructions by hand might: it must answer
// with a *ProgramError or a program, never panic.
func FuzzPrepare(f *testing.F) {
	f.Add([]byte{0xb7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var insns asm.Instructions
		for len(data) >= 16 {
			c := data[:16]
			data = data[16:]
			ins := asm.Instruction{
				OpCode:   asm.OpCode(binary.LittleEndian.Uint32(c[0:])),
				Dst:      asm.Register(c[4]),
				Src:      asm.Register(c[5]),
				Offset:   int16(binary.LittleEndian.Uint16(c[6:])),
				Constant: int64(binary.LittleEndian.Uint64(c[8:])),
			}
			if c[4]&0x80 != 0 {
				ins.OpCode &= 0xff
			}
			if c[5]&0x80 != 0 {
				ins = ins.WithReference("f")
			}
			if c[6]&0x80 != 0 {
				ins = ins.WithSymbol(fmt.Sprint("f", len(insns)%3))
			}
			insns = append(insns, ins)
		}
		opts := Options{
			Helpers:      Helpers{1: {Fn: func(*Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) { return 0, nil }}},
			ResolveImm64: func(int, asm.Instruction) (uint64, error) { return 0, nil },
			CheckContext: func(int, int32, int, bool, bool) error { return nil },
		}
		space := NewSpace()
		p, err := Prepare(space, "hand", insns, opts)
		if err != nil {
			var pe *ProgramError
			if !errors.As(err, &pe) {
				t.Fatalf("Prepare returned %T: %v", err, err)
			}
			return
		}
		m := space.NewMachine()
		m.SetBudget(1000)
		if _, err := m.Run(p, 0); errors.Is(err, errInternalFail) {
			t.Fatalf("interpreter panicked: %v", err)
		}
	})
}
