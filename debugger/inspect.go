package debugger

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/skmsg/skmsg/loader/listing"
	"github.com/skmsg/skmsg/vm"
)

// Var is one variable a front end shows; Kids, when set, are shown when it
// is expanded.
type Var struct {
	Name  string
	Value string
	Type  string
	Kids  []Var
}

// Scope is a group of variables of a frame.
type Scope struct {
	Name string
	Vars []Var
	// Expensive scopes (maps) have Load instead of Vars: their variables
	// are read only when the scope is opened.
	Expensive bool
	Load      func() []Var
}

// Limits of what one scope shows.
const (
	maxPacketShown = 4096
	maxMapEntries  = 256
)

// frameEnv evaluates expressions in one frame of a stopped thread.
type frameEnv struct {
	e     *Engine
	th    *thread
	frame int
	calls []vm.CallFrame
}

func (f *frameEnv) callStack() []vm.CallFrame {
	if f.calls == nil {
		f.calls = f.th.mach.CallStack()
	}
	return f.calls
}

func (f *frameEnv) cf() (vm.CallFrame, error) {
	cs := f.callStack()
	if f.frame < 0 || f.frame >= len(cs) {
		return vm.CallFrame{}, fmt.Errorf("no frame %d (the stack has %d)", f.frame, len(cs))
	}
	return cs[f.frame], nil
}

func (f *frameEnv) reg(n int) (uint64, error) {
	if f.frame == 0 {
		return f.th.mach.Regs()[n], nil
	}
	cf, err := f.cf()
	if err != nil {
		return 0, err
	}
	switch {
	case n >= 6 && n <= 9:
		return cf.Saved[n-6], nil
	case n == 10:
		return cf.FP, nil
	}
	return 0, fmt.Errorf("r%d of an outer frame is not known (calls clobber r0..r5)", n)
}

func (f *frameEnv) pc() uint64 {
	cf, err := f.cf()
	if err != nil {
		return 0
	}
	return uint64(cf.PC)
}

func (f *frameEnv) program() *program {
	cs := f.callStack()
	if len(cs) == 0 {
		return nil
	}
	p, _ := f.e.programLocked(cs[0].Program)
	return p
}

func (f *frameEnv) ctxParam() string {
	if p := f.program(); p != nil {
		if ct, err := p.ctxType(); err == nil {
			return ct.param
		}
	}
	return ""
}

func (f *frameEnv) ctxField(name string) (uint64, error) {
	root, field, _ := strings.Cut(name, "\x00")
	p := f.program()
	if p == nil {
		return 0, errRunning
	}
	ct, err := p.ctxType()
	if err != nil {
		return 0, err
	}
	if root != "ctx" && root != ct.param {
		return 0, fmt.Errorf("unknown name %q (the context is ctx or %s)", root, ct.param)
	}
	fd, ok := ct.field(field)
	if !ok {
		return 0, fmt.Errorf("struct %s has no field %q", ct.name, field)
	}
	return f.th.mach.Peek(f.th.ctx+uint64(fd.off), fd.size)
}

func (f *frameEnv) stack(off int64) (uint64, error) {
	cf, err := f.cf()
	if err != nil {
		return 0, err
	}
	if off >= 0 || off < -vm.StackSize || off%8 != 0 {
		return 0, fmt.Errorf("stack[%d]: want a multiple of 8 in [-%d, -8] (an 8-byte slot below the frame pointer)", off, vm.StackSize)
	}
	return f.th.mach.Peek(cf.FP+uint64(off), 8)
}

func (f *frameEnv) load(addr uint64, size int) (uint64, error) {
	return f.th.mach.Peek(addr, size)
}

// describe renders a 64-bit value: a pointer as region+offset, else as
// decimal (and hex when large).
func describe(m *vm.Machine, v uint64) string {
	if v>>vm.RegionShift != 0 {
		if r, ok := m.RegionAt(v); ok {
			if r.Name == "stack" {
				return fmt.Sprintf("%#x (fp%+d of frame %d)", v, stackOffset(r.Offset), stackFrame(r.Offset))
			}
			return fmt.Sprintf("%#x (%s+%d)", v, r.Name, r.Offset)
		}
		if vm.RegionID(v>>vm.RegionShift) == vm.FuncRegion {
			return fmt.Sprintf("%#x (function at pc %d)", v, uint32(v))
		}
		if vm.RegionID(v>>vm.RegionShift) >= vm.HandleBase {
			return fmt.Sprintf("%#x (handle)", v)
		}
	}
	return scalar(v)
}

func scalar(v uint64) string {
	if int64(v) < 0 && int64(v) > -1<<31 {
		return fmt.Sprintf("%d (%#x)", int64(v), v)
	}
	if v < 10 {
		return strconv.FormatUint(v, 10)
	}
	return fmt.Sprintf("%d (%#x)", v, v)
}

// Stack offsets: the stack region holds MaxCallDepth frames, frame d's
// frame pointer at MaxCallDepth*StackSize - d*StackSize.
func stackFrame(off uint32) int {
	d := (vm.MaxCallDepth*vm.StackSize - int(off) - 1) / vm.StackSize
	return d
}

func stackOffset(off uint32) int {
	d := stackFrame(off)
	return int(off) - (vm.MaxCallDepth*vm.StackSize - d*vm.StackSize)
}

func (e *Engine) env(tid, frame int) (*frameEnv, error) {
	th, err := e.threadLocked(tid)
	if err != nil {
		return nil, err
	}
	if th == e.scen {
		return nil, fmt.Errorf("stopped between steps: no program is running (step in to stop in the next program run)")
	}
	f := &frameEnv{e: e, th: th, frame: frame}
	if _, err := f.cf(); err != nil {
		return nil, err
	}
	return f, nil
}

// Scopes returns the variables of a frame: registers, context fields,
// the frame's stack, the packet and the maps.
func (e *Engine) Scopes(tid, frame int) ([]Scope, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if th, err := e.threadLocked(tid); err == nil && th == e.scen {
		return []Scope{{Name: "Maps", Expensive: true, Load: e.mapVars}}, nil
	}
	f, err := e.env(tid, frame)
	if err != nil {
		return nil, err
	}
	out := []Scope{{Name: "Registers", Vars: f.regVars()}}
	if vs, name := f.ctxVars(); vs != nil {
		out = append(out, Scope{Name: "Context (" + name + ")", Vars: vs})
	}
	out = append(out, Scope{Name: "Stack", Vars: f.stackVars()})
	if vs := f.packetVars(); vs != nil {
		out = append(out, Scope{Name: "Packet", Vars: vs})
	}
	out = append(out, Scope{Name: "Maps", Expensive: true, Load: e.mapVars})
	return out, nil
}

func (f *frameEnv) regVars() []Var {
	var out []Var
	for n := 0; n <= 10; n++ {
		v, err := f.reg(n)
		val := ""
		if err != nil {
			val = "?"
		} else {
			val = describe(f.th.mach, v)
		}
		out = append(out, Var{Name: fmt.Sprintf("r%d", n), Value: val, Type: "u64"})
	}
	cf, _ := f.cf()
	out = append(out, Var{Name: "pc", Value: strconv.Itoa(cf.PC), Type: "slot"})
	return out
}

func (f *frameEnv) ctxVars() ([]Var, string) {
	p := f.program()
	if p == nil {
		return nil, ""
	}
	ct, err := p.ctxType()
	if err != nil {
		return []Var{{Name: "error", Value: err.Error()}}, "?"
	}
	var out []Var
	for _, fd := range ct.fields {
		v, err := f.th.mach.Peek(f.th.ctx+uint64(fd.off), fd.size)
		val := ""
		switch {
		case err != nil:
			val = "<" + err.Error() + ">"
		case fd.ptr:
			val = describe(f.th.mach, v)
		default:
			val = scalar(v)
		}
		typ := fmt.Sprintf("u%d", fd.size*8)
		if fd.ptr {
			typ = "pointer"
		}
		out = append(out, Var{Name: fd.name, Value: val, Type: typ})
	}
	return out, ct.name
}

func (f *frameEnv) stackVars() []Var {
	cf, err := f.cf()
	if err != nil {
		return nil
	}
	b, err := f.th.mach.Bytes(cf.FP-vm.StackSize, vm.StackSize, vm.PermRead)
	if err != nil {
		return []Var{{Name: "error", Value: err.Error()}}
	}
	out := make([]Var, 0, vm.StackSize/8)
	for off := -8; off >= -vm.StackSize; off -= 8 {
		slot := b[vm.StackSize+off : vm.StackSize+off+8]
		v := binary.LittleEndian.Uint64(slot)
		out = append(out, Var{Name: fmt.Sprintf("fp%d", off), Value: fmt.Sprintf("%s  %s", hex.EncodeToString(slot), describe(f.th.mach, v)), Type: "u64"})
	}
	return out
}

// packet returns the bytes between the context's data and data_end.
func (f *frameEnv) packet() ([]byte, error) {
	data, err := f.ctxField("ctx\x00data")
	if err != nil {
		return nil, err
	}
	end, err := f.ctxField("ctx\x00data_end")
	if err != nil {
		return nil, err
	}
	if end < data || end-data > 1<<24 {
		return nil, fmt.Errorf("data %#x, data_end %#x: no packet", data, end)
	}
	if end == data {
		return []byte{}, nil
	}
	return f.th.mach.Bytes(data, int(end-data), vm.PermRead)
}

func (f *frameEnv) packetVars() []Var {
	b, err := f.packet()
	if err != nil {
		return nil
	}
	out := []Var{{Name: "length", Value: strconv.Itoa(len(b))}}
	if len(b) > maxPacketShown {
		out = append(out, Var{Name: "shown", Value: fmt.Sprintf("first %d bytes", maxPacketShown)})
		b = b[:maxPacketShown]
	}
	for off := 0; off < len(b); off += 16 {
		end := min(off+16, len(b))
		out = append(out, Var{Name: fmt.Sprintf("%04x", off), Value: hexLine(b[off:end])})
	}
	return out
}

// hexLine renders up to 16 bytes as hex and printable ASCII.
func hexLine(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	sb.WriteString("  |")
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('.')
		}
	}
	sb.WriteByte('|')
	return sb.String()
}

// mapVars reads every map; it takes no lock of the engine's (a map read
// may wait up to a second for a lock the stopped program holds).
func (e *Engine) mapVars() []Var {
	ms := e.cfg.Maps
	if ms == nil {
		return nil
	}
	var out []Var
	for _, name := range ms.MapNames() {
		ents, err := ms.MapEntries(name)
		v := Var{Name: name}
		switch {
		case err != nil:
			v.Value = "<" + err.Error() + ">"
		default:
			v.Value = fmt.Sprintf("%d entries", len(ents))
			for i, kv := range ents {
				if i == maxMapEntries {
					v.Kids = append(v.Kids, Var{Name: "...", Value: fmt.Sprintf("%d more", len(ents)-i)})
					break
				}
				v.Kids = append(v.Kids, Var{Name: hex.EncodeToString(kv[0]), Value: valueText(kv[1])})
			}
		}
		out = append(out, v)
	}
	return out
}

// valueText shows a map value as hex, with its number when it is one.
func valueText(b []byte) string {
	s := hex.EncodeToString(b)
	switch len(b) {
	case 4:
		return fmt.Sprintf("%s (%d)", s, binary.LittleEndian.Uint32(b))
	case 8:
		return fmt.Sprintf("%s (%d)", s, binary.LittleEndian.Uint64(b))
	}
	return s
}

// Eval evaluates what print and DAP's evaluate accept in a frame:
//
//	EXPR            an expression (see the package doc): r1, msg->size, stack[-8] + 1
//	packet          the bytes between data and data_end
//	map NAME KEY    a map's value under KEY (a number, stored little-endian
//	                in the map's key size, or hex:0a0b...)
//	map NAME        the whole map
//	regs            all registers
func (e *Engine) Eval(tid, frame int, text string) (string, error) {
	text = strings.TrimSpace(text)
	if rest, ok := strings.CutPrefix(text, "map "); ok || text == "map" {
		return e.evalMap(strings.Fields(rest))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	f, err := e.env(tid, frame)
	if err != nil {
		return "", err
	}
	switch text {
	case "packet":
		b, err := f.packet()
		if err != nil {
			return "", err
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "%d bytes", len(b))
		for off := 0; off < len(b) && off < maxPacketShown; off += 16 {
			fmt.Fprintf(&sb, "\n%04x  %s", off, hexLine(b[off:min(off+16, len(b))]))
		}
		return sb.String(), nil
	case "regs", "registers":
		var sb strings.Builder
		for i, v := range f.regVars() {
			if i > 0 {
				sb.WriteByte('\n')
			}
			fmt.Fprintf(&sb, "%-4s %s", v.Name, v.Value)
		}
		return sb.String(), nil
	}
	x, err := parseExpr(text)
	if err != nil {
		return "", fmt.Errorf("%s: %w", text, err)
	}
	v, err := x.eval(f)
	if err != nil {
		return "", err
	}
	if _, isReg := x.(regExpr); isReg {
		return describe(f.th.mach, v), nil
	}
	if c, isCtx := x.(ctxExpr); isCtx {
		if p := f.program(); p != nil {
			if ct, err := p.ctxType(); err == nil {
				_, field, _ := strings.Cut(c.field, "\x00")
				if fd, ok := ct.field(field); ok && fd.ptr {
					return describe(f.th.mach, v), nil
				}
			}
		}
	}
	return scalar(v), nil
}

func (e *Engine) evalMap(args []string) (string, error) {
	ms := e.cfg.Maps
	if ms == nil {
		return "", fmt.Errorf("no maps to show")
	}
	if len(args) == 0 || len(args) > 2 {
		return "", fmt.Errorf("map: want map NAME [KEY]; maps: %s", strings.Join(ms.MapNames(), ", "))
	}
	name := args[0]
	if len(args) == 1 {
		ents, err := ms.MapEntries(name)
		if err != nil {
			return "", err
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s: %d entries", name, len(ents))
		for i, kv := range ents {
			if i == maxMapEntries {
				fmt.Fprintf(&sb, "\n... %d more", len(ents)-i)
				break
			}
			fmt.Fprintf(&sb, "\n%s: %s", hex.EncodeToString(kv[0]), valueText(kv[1]))
		}
		return sb.String(), nil
	}
	ks, err := ms.MapKeySize(name)
	if err != nil {
		return "", err
	}
	key, err := parseKey(args[1], ks)
	if err != nil {
		return "", fmt.Errorf("map %s: key %q: %w", name, args[1], err)
	}
	v, err := ms.MapLookup(name, key)
	if err != nil {
		return "", fmt.Errorf("map %s: lookup %s: %w", name, hex.EncodeToString(key), err)
	}
	return valueText(v), nil
}

// parseKey reads a key: hex:0a0b (raw bytes) or a number stored
// little-endian in size bytes.
func parseKey(s string, size int) ([]byte, error) {
	if h, ok := strings.CutPrefix(s, "hex:"); ok {
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, err
		}
		if len(b) != size {
			return nil, fmt.Errorf("%d bytes, the map's keys have %d", len(b), size)
		}
		return b, nil
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return nil, fmt.Errorf("want a number or hex:BYTES")
	}
	if size > 8 {
		return nil, fmt.Errorf("keys of %d bytes: give hex:BYTES", size)
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	return b[:size], nil
}

// Disassemble renders the instructions of the program with engine id id
// from slot from, count of them (slots with no instruction, the second
// half of an LD_IMM64, are skipped).
func (e *Engine) Disassemble(addr uint64, offset, count int) ([]Insn, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := int(addr >> 32)
	if id < 1 || id > len(e.programs) {
		return nil, fmt.Errorf("address %#x names no program", addr)
	}
	p := e.programs[id-1]
	start := int(uint32(addr))/8 + offset
	var out []Insn
	for pc := start; len(out) < count; pc++ {
		if pc < 0 {
			out = append(out, Insn{Addr: InsnAddr(id, 0) - uint64(-pc)*8, Text: "(none)", PC: pc})
			continue
		}
		if pc >= p.vm.NumInsns() {
			out = append(out, Insn{Addr: InsnAddr(id, pc), Text: "(none)", PC: pc})
			continue
		}
		ins, ok := p.insn(pc)
		if !ok {
			continue
		}
		in := Insn{Addr: InsnAddr(id, pc), PC: pc, Program: p.name, Text: listing.Format(ins, pc)}
		if l, key := p.line(pc); l != nil && p.stmt[pc] {
			in.File, in.Line = e.srcs.path(key.file), key.line
			if in.File == "" {
				in.File = key.file
			}
		}
		if f := p.function(pc); f.start == pc {
			in.Symbol = f.name
		}
		out = append(out, in)
	}
	return out, nil
}

// Insn is one disassembled instruction.
type Insn struct {
	Addr    uint64
	PC      int
	Program string
	Text    string
	Symbol  string
	File    string // set on the first instruction of a source line
	Line    int
}
