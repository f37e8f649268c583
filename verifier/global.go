package verifier

import (
	"errors"

	"github.com/cilium/ebpf/btf"

	"github.com/skmsg/skmsg/internal/errno"
)

// Global (non-static) functions are verified on their own, once, from
// their BTF signature, after the main program (do_check_subprogs); a call
// only checks the arguments against the signature and returns an unknown
// scalar ("Func#N ('name') is global and assumed valid.").

type globalArgKind uint8

const (
	gArgScalar globalArgKind = iota
	gArgCtx
	gArgMem // pointer to memory of memSize bytes, or NULL
)

type globalArg struct {
	kind    globalArgKind
	memSize uint32
}

type globalFunc struct {
	name   string
	start  int
	index  int // the kernel's subprog number (func#N)
	args   []globalArg
	void   bool
	bad    string // why the signature cannot be used, "" when it can
	called bool
	done   bool
}

// findGlobals reads the BTF func info of the functions and keeps the
// global ones.
func (v *verifier) findGlobals() {
	p := v.p
	v.globals = map[int]*globalFunc{}
	ctxName := v.pt.ctxName
	for i, start := range p.subprogs {
		if start == 0 {
			continue
		}
		fn := p.funcs[start]
		if fn == nil || fn.Linkage != btf.GlobalFunc {
			continue
		}
		g := &globalFunc{name: fn.Name, start: start, index: i}
		proto, ok := fn.Type.(*btf.FuncProto)
		if !ok {
			continue
		}
		g.void = proto.Return == nil
		if q, ok := btf.UnderlyingType(proto.Return).(*btf.Void); ok && q != nil {
			g.void = true
		}
		for ai, prm := range proto.Params {
			t := btf.UnderlyingType(prm.Type)
			switch tt := t.(type) {
			case *btf.Int, *btf.Enum:
				g.args = append(g.args, globalArg{kind: gArgScalar})
			case *btf.Pointer:
				target := btf.UnderlyingType(tt.Target)
				if s, ok := target.(*btf.Struct); ok && s.Name == ctxName {
					g.args = append(g.args, globalArg{kind: gArgCtx})
					continue
				}
				size, err := btf.Sizeof(target)
				if err != nil || size <= 0 {
					g.bad = sprintf("arg#%d reference type('%s') size cannot be determined", ai, typeKind(target))
					continue
				}
				g.args = append(g.args, globalArg{kind: gArgMem, memSize: uint32(size)})
			default:
				g.bad = sprintf("Arg#%d type %s in %s() is not supported yet.", ai, typeKind(t), fn.Name)
			}
		}
		v.globals[start] = g
	}
}

func typeKind(t btf.Type) string {
	switch t.(type) {
	case *btf.Void:
		return "void"
	case *btf.Struct:
		return "struct"
	case *btf.Union:
		return "union"
	case *btf.Pointer:
		return "ptr"
	case *btf.Array:
		return "array"
	case *btf.FuncProto:
		return "func_proto"
	}
	return "type"
}

// callGlobal handles a call of a global function.
func (v *verifier) callGlobal(pc int, g *globalFunc) error {
	if g.bad != "" {
		return v.fail(errno.EINVAL, pc, "%s", g.bad)
	}
	regs := v.regs()
	for i, a := range g.args {
		regno := uint8(i + 1)
		r := &regs[regno]
		ok := true
		switch a.kind {
		case gArgScalar:
			if r.typ != scalarValue {
				v.logf("R%d is not a scalar\n", regno)
				ok = false
			}
		case gArgCtx:
			if r.typ != ptrToCtx {
				v.logf("arg#%d expects pointer to ctx\n", i)
				ok = false
			}
		case gArgMem:
			if r.isNull() {
				continue
			}
			if !isMemType(r) || r.maybeNull {
				v.logf("R%d type=%s expected=%s\n", regno, r.typeName(), memTypesStr)
				ok = false
				break
			}
			save := v.errno
			err := v.checkHelperMem(pc, regno, int64(a.memSize), accRead, false)
			if err != nil {
				if !errors.Is(err, errRefused) {
					return err
				}
				// The access error was logged; the verdict is the
				// caller's.
				v.errno, v.errPC, v.reason = save, -1, ""
				ok = false
			}
		}
		if !ok {
			return v.fail(errno.EINVAL, pc, "Caller passes invalid args into func#%d ('%s')", g.index, g.name)
		}
	}
	v.logf("Func#%d ('%s') is global and assumed valid.\n", g.index, g.name)
	g.called = true
	if v.changesPkt(g.start) {
		v.invalidatePkt()
	}
	for i := 1; i <= 5; i++ {
		regs[i].markNotInit()
	}
	regs[0].markUnknownScalar()
	v.cur.insn = pc + 1
	return nil
}

// changesPkt reports whether the function at start (or one it calls) may
// call a helper that changes packet data.
func (v *verifier) changesPkt(start int) bool {
	seen := map[int]bool{}
	var walk func(s int) bool
	walk = func(s int) bool {
		if seen[s] {
			return false
		}
		seen[s] = true
		end := len(v.p.insns)
		for _, o := range v.p.subprogs {
			if o > s {
				end = o
				break
			}
		}
		for pc := s; pc < end; pc++ {
			in := &v.p.insns[pc]
			if in.second {
				continue
			}
			if in.isHelperCall() {
				if hp := helperProtos[in.imm]; hp != nil && hp.pktData {
					return true
				}
			}
			if in.isPseudoCall() && walk(pc+int(in.imm)+1) {
				return true
			}
		}
		return false
	}
	return walk(start)
}

// globalState is the entry state of a global function: arguments from
// its signature.
func (v *verifier) globalState(g *globalFunc) *vstate {
	f := &frame{callsite: -1, subprog: g.start}
	for i := range f.regs {
		f.regs[i].markNotInit()
	}
	for i, a := range g.args {
		r := &f.regs[i+1]
		switch a.kind {
		case gArgScalar:
			r.markUnknownScalar()
		case gArgCtx:
			r.markPtr(ptrToCtx)
		case gArgMem:
			r.markPtr(ptrToMem)
			r.memSize = a.memSize
			r.maybeNull = true
			r.id = v.newID()
		}
	}
	f.regs[10].markPtr(ptrToStack)
	st := &vstate{frames: []*frame{f}, insn: g.start}
	return st
}

// checkGlobals verifies every global function a verified path called.
func (v *verifier) checkGlobals() error {
	for {
		var next *globalFunc
		for _, s := range v.p.subprogs {
			if g := v.globals[s]; g != nil && g.called && !g.done {
				next = g
				break
			}
		}
		if next == nil {
			return nil
		}
		next.done = true
		v.curGlobal = next
		v.explored = map[int][]*checkpoint{}
		if err := v.walk(v.globalState(next)); err != nil {
			return err
		}
	}
}
