package debugger

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Expressions (print, watch, breakpoint conditions) are small: integers,
// registers r0..r10 (and pc), context fields (ctx.size, ctx->size or with
// the program's parameter name, msg->size, skops->args[1]), stack slots
// relative to the frame pointer (stack[-8], a u64), loads from any
// address the program could read (u8[r2+3], u32[r1+68]), + - &
// arithmetic, comparisons and && || !. Values are 64-bit; comparisons are unsigned
// unless an operand is negative.

type expr interface {
	eval(env evalEnv) (uint64, error)
}

// evalEnv is what an expression reads: the stopped thread's frame.
type evalEnv interface {
	reg(n int) (uint64, error)
	pc() uint64
	ctxField(name string) (uint64, error)
	ctxParam() string
	stack(off int64) (uint64, error)
	load(addr uint64, size int) (uint64, error)
}

type (
	numExpr   struct{ v uint64 }
	regExpr   struct{ n int }
	pcExpr    struct{}
	ctxExpr   struct{ field string }
	stackExpr struct{ off expr }
	loadExpr  struct {
		size int
		addr expr
	}
	unaryExpr struct {
		op string
		x  expr
	}
	binExpr struct {
		op   string
		x, y expr
	}
)

func (e numExpr) eval(evalEnv) (uint64, error)     { return e.v, nil }
func (e regExpr) eval(env evalEnv) (uint64, error) { return env.reg(e.n) }
func (pcExpr) eval(env evalEnv) (uint64, error)    { return env.pc(), nil }
func (e ctxExpr) eval(env evalEnv) (uint64, error) { return env.ctxField(e.field) }

func (e stackExpr) eval(env evalEnv) (uint64, error) {
	off, err := e.off.eval(env)
	if err != nil {
		return 0, err
	}
	return env.stack(int64(off))
}

func (e loadExpr) eval(env evalEnv) (uint64, error) {
	a, err := e.addr.eval(env)
	if err != nil {
		return 0, err
	}
	return env.load(a, e.size)
}

func (e unaryExpr) eval(env evalEnv) (uint64, error) {
	v, err := e.x.eval(env)
	if err != nil {
		return 0, err
	}
	if e.op == "-" {
		return -v, nil
	}
	return b2u(v == 0), nil
}

func (e binExpr) eval(env evalEnv) (uint64, error) {
	x, err := e.x.eval(env)
	if err != nil {
		return 0, err
	}
	switch e.op { // short-circuit
	case "&&":
		if x == 0 {
			return 0, nil
		}
	case "||":
		if x != 0 {
			return 1, nil
		}
	}
	y, err := e.y.eval(env)
	if err != nil {
		return 0, err
	}
	signed := int64(x) < 0 || int64(y) < 0
	switch e.op {
	case "+":
		return x + y, nil
	case "-":
		return x - y, nil
	case "&":
		return x & y, nil
	case "==":
		return b2u(x == y), nil
	case "!=":
		return b2u(x != y), nil
	case "<":
		if signed {
			return b2u(int64(x) < int64(y)), nil
		}
		return b2u(x < y), nil
	case "<=":
		if signed {
			return b2u(int64(x) <= int64(y)), nil
		}
		return b2u(x <= y), nil
	case ">":
		if signed {
			return b2u(int64(x) > int64(y)), nil
		}
		return b2u(x > y), nil
	case ">=":
		if signed {
			return b2u(int64(x) >= int64(y)), nil
		}
		return b2u(x >= y), nil
	case "&&", "||":
		return b2u(y != 0), nil
	}
	return 0, fmt.Errorf("unknown operator %q", e.op)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// parseExpr parses an expression; an error says where it went wrong.
func parseExpr(s string) (expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i])
	}
	return e, nil
}

var errEmpty = errors.New("empty expression")

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case unicode.IsLetter(c) || c == '_' || unicode.IsDigit(c):
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "->", "==", "!=", "<=", ">=", "&&", "||":
				toks = append(toks, two)
				i += 2
				continue
			}
			if !strings.ContainsRune("+-&<>!()[].", c) {
				return nil, fmt.Errorf("unexpected character %q", c)
			}
			toks = append(toks, string(c))
			i++
		}
	}
	if len(toks) == 0 {
		return nil, errEmpty
	}
	return toks, nil
}

type parser struct {
	toks []string
	i    int
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	p.i++
	return t
}

func (p *parser) expect(t string) error {
	if got := p.next(); got != t {
		if got == "" {
			got = "end of expression"
		}
		return fmt.Errorf("want %q, got %q", t, got)
	}
	return nil
}

func (p *parser) binary(ops []string, sub func() (expr, error), chain bool) (expr, error) {
	x, err := sub()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		found := false
		for _, o := range ops {
			found = found || o == op
		}
		if !found {
			return x, nil
		}
		p.i++
		y, err := sub()
		if err != nil {
			return nil, err
		}
		x = binExpr{op: op, x: x, y: y}
		if !chain {
			return x, nil
		}
	}
}

func (p *parser) or() (expr, error)  { return p.binary([]string{"||"}, p.and, true) }
func (p *parser) and() (expr, error) { return p.binary([]string{"&&"}, p.cmp, true) }
func (p *parser) cmp() (expr, error) {
	return p.binary([]string{"==", "!=", "<", "<=", ">", ">="}, p.sum, false)
}
func (p *parser) sum() (expr, error) { return p.binary([]string{"+", "-", "&"}, p.unary, true) }

func (p *parser) unary() (expr, error) {
	switch p.peek() {
	case "-", "!":
		op := p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return unaryExpr{op: op, x: x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch {
	case t == "":
		return nil, fmt.Errorf("expression ends early")
	case t == "(":
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		return x, p.expect(")")
	case unicode.IsDigit(rune(t[0])):
		v, err := strconv.ParseUint(t, 0, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t)
		}
		return numExpr{v}, nil
	case t == "pc":
		return pcExpr{}, nil
	case t == "fp":
		return regExpr{10}, nil
	case len(t) >= 2 && t[0] == 'r' && isDigits(t[1:]):
		n, _ := strconv.Atoi(t[1:])
		if n > 10 {
			return nil, fmt.Errorf("no register %s (r0..r10)", t)
		}
		return regExpr{n}, nil
	case t == "u8" || t == "u16" || t == "u32" || t == "u64":
		if err := p.expect("["); err != nil {
			return nil, err
		}
		addr, err := p.sum()
		if err != nil {
			return nil, err
		}
		size, _ := strconv.Atoi(t[1:])
		return loadExpr{size: size / 8, addr: addr}, p.expect("]")
	case t == "stack":
		if err := p.expect("["); err != nil {
			return nil, err
		}
		off, err := p.sum()
		if err != nil {
			return nil, err
		}
		return stackExpr{off}, p.expect("]")
	}
	if !unicode.IsLetter(rune(t[0])) && t[0] != '_' {
		return nil, fmt.Errorf("unexpected %q", t)
	}
	// ctx.FIELD, ctx->FIELD or PARAM->FIELD, with .sub and [i] parts.
	if op := p.peek(); op != "." && op != "->" {
		return nil, fmt.Errorf("unknown name %q (registers r0..r10, pc, ctx.FIELD, stack[OFF], u8/u16/u32/u64[ADDR])", t)
	}
	p.i++
	field, err := p.fieldPath()
	if err != nil {
		return nil, err
	}
	return ctxExpr{field: t + "\x00" + field}, nil
}

// fieldPath reads FIELD(.FIELD|[N])* into the flattened field name.
func (p *parser) fieldPath() (string, error) {
	var b strings.Builder
	name := p.next()
	if name == "" || !(unicode.IsLetter(rune(name[0])) || name[0] == '_') {
		return "", fmt.Errorf("want a field name, got %q", name)
	}
	b.WriteString(name)
	for {
		switch p.peek() {
		case ".":
			p.i++
			n := p.next()
			if n == "" || !(unicode.IsLetter(rune(n[0])) || n[0] == '_') {
				return "", fmt.Errorf("want a field name after '.', got %q", n)
			}
			b.WriteString("." + n)
		case "[":
			p.i++
			n := p.next()
			if !isDigits(n) {
				return "", fmt.Errorf("want an index, got %q", n)
			}
			if err := p.expect("]"); err != nil {
				return "", err
			}
			b.WriteString("[" + n + "]")
		default:
			return b.String(), nil
		}
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
