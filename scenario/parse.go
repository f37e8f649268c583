package scenario

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"gopkg.in/yaml.v3"
)

// Error is a problem with a scenario file, at a place in it.
type Error struct {
	Pos  Pos
	Path string // the field, e.g. steps[3].send
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, e.Path, e.Msg)
}

// ErrorList is every problem found in a file, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

type parser struct {
	file string
	errs ErrorList
}

func (p *parser) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: p.file}
	}
	return Pos{File: p.file, Line: n.Line, Col: n.Column}
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	// Values from the file are shortened: a message never carries a
	// whole payload (a file of aliases made one error per alias of a
	// megabyte string).
	for i, a := range args {
		if str, ok := a.(string); ok && len(str) > maxQuoted {
			args[i] = fmt.Sprintf("%s… (%d bytes)", str[:maxQuoted], len(str))
		}
	}
	if len(p.errs) >= maxErrors {
		if len(p.errs) == maxErrors {
			p.errs = append(p.errs, &Error{Pos: p.pos(n), Msg: fmt.Sprintf("more than %d problems; the rest are not listed", maxErrors)})
		}
		return
	}
	p.errs = append(p.errs, &Error{Pos: p.pos(n), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Bounds on what one error list holds.
const (
	maxQuoted = 1024 // bytes of a value quoted in a message (lists of choices fit)
	maxErrors = 100  // problems listed for one file
)

// fields is a mapping node checked against the keys it may hold.
type fields struct {
	node *yaml.Node
	vals map[string]*yaml.Node
}

func (f fields) get(k string) *yaml.Node {
	if f.vals == nil {
		return nil
	}
	return f.vals[k]
}

func (f fields) has(k string) bool { return f.get(k) != nil }

func (p *parser) positions(f fields) map[string]Pos {
	out := make(map[string]Pos, len(f.vals))
	for k, v := range f.vals {
		out[k] = p.pos(v)
	}
	return out
}

// mapping checks that n is a mapping whose keys are among allowed, each at
// most once.
func (p *parser) mapping(n *yaml.Node, path string, allowed ...string) (fields, bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "expected a mapping with fields %s, found %s", strings.Join(allowed, ", "), kindName(n))
		return fields{node: n}, false
	}
	f := fields{node: n, vals: map[string]*yaml.Node{}}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, path, "expected a field name, found %s", kindName(k))
			ok = false
			continue
		}
		if !contains(allowed, k.Value) {
			p.errorf(k, path, "unknown field %q (expected one of %s)", k.Value, strings.Join(allowed, ", "))
			ok = false
			continue
		}
		if _, dup := f.vals[k.Value]; dup {
			p.errorf(k, path, "duplicate field %q", k.Value)
			ok = false
			continue
		}
		f.vals[k.Value] = v
	}
	return f, ok
}

func (p *parser) sequence(n *yaml.Node, path string) []*yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "expected a list, found %s", kindName(n))
		return nil
	}
	return n.Content
}

func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, path, "expected a string, found %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// name is a non-empty string.
func (p *parser) name(n *yaml.Node, path string) (string, bool) {
	s, ok := p.str(n, path)
	if ok && strings.TrimSpace(s) == "" {
		p.errorf(n, path, "must not be empty")
		return "", false
	}
	return s, ok
}

func (p *parser) integer(n *yaml.Node, path string, bits int) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!str" && n.Style != 0 {
		p.errorf(n, path, "expected an integer, found %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 0, bits)
	if err != nil {
		p.errorf(n, path, "%q is not a %d-bit integer", n.Value, bits)
		return 0, false
	}
	return v, true
}

func (p *parser) uinteger(n *yaml.Node, path string, bits int) (uint64, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, path, "expected an integer, found %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseUint(n.Value, 0, bits)
	if err != nil {
		p.errorf(n, path, "%q is not an unsigned %d-bit integer", n.Value, bits)
		return 0, false
	}
	return v, true
}

func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	p.errorf(n, path, "expected true or false, found %s", kindName(n))
	return false, false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Parse reads a scenario file without loading its objects.
func Parse(path string) (*Scenario, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseBytes(path, src)
}

// ParseBytes parses scenario text; file names it in errors and relative
// object paths are resolved against its directory.
func ParseBytes(file string, src []byte) (*Scenario, error) {
	p := &parser{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		return nil, ErrorList{yamlError(file, err)}
	}
	if len(doc.Content) == 0 {
		return nil, ErrorList{{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "empty scenario file"}}
	}
	if err := checkExpansion(file, len(src), doc.Content[0]); err != nil {
		return nil, ErrorList{err}
	}
	sc := p.scenario(doc.Content[0])
	if len(p.errs) == 0 {
		p.checkPayloads(sc)
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return sc, nil
}

// yamlError turns a yaml.v3 syntax error ("yaml: line 3: ...") into a
// positioned Error.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	line := 0
	if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if l, e := strconv.Atoi(num); e == nil {
				line, msg = l, strings.TrimSpace(tail)
			}
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "invalid YAML: " + msg}
}

var topFields = []string{"name", "seed", "object", "objects", "create_maps", "programs", "listeners", "connections", "maps", "steps", "cpus"}

func (p *parser) scenario(root *yaml.Node) *Scenario {
	sc := &Scenario{File: p.file}
	f, ok := p.mapping(root, "", topFields...)
	if !ok && f.vals == nil {
		return sc
	}
	dir := filepath.Dir(p.file)
	if n := f.get("name"); n != nil {
		sc.Name, _ = p.str(n, "name")
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(p.file), filepath.Ext(p.file))
	}
	if n := f.get("seed"); n != nil {
		sc.Seed, _ = p.uinteger(n, "seed", 64)
		sc.SeedPos = p.pos(n)
	}
	if n := f.get("cpus"); n != nil {
		if c, ok := p.integer(n, "cpus", 32); ok {
			if c < 1 || c > MaxCPUs {
				p.errorf(n, "cpus", "%d CPUs: give 1 to %d", c, MaxCPUs)
			} else {
				sc.CPUs = int(c)
			}
		}
	}
	switch {
	case f.has("object") && f.has("objects"):
		p.errorf(f.get("objects"), "objects", "give either object or objects, not both")
	case f.has("object"):
		if s, ok := p.name(f.get("object"), "object"); ok {
			sc.Objects = append(sc.Objects, &Object{Pos: p.pos(f.get("object")), Path: resolve(dir, s)})
		}
	case f.has("objects"):
		for i, n := range p.sequence(f.get("objects"), "objects") {
			path := fmt.Sprintf("objects[%d]", i)
			of, _ := p.mapping(n, path, "name", "path")
			o := &Object{Pos: p.pos(n)}
			if v := of.get("name"); v != nil {
				o.Name, _ = p.name(v, path+".name")
			} else {
				p.errorf(n, path, "missing field \"name\"")
			}
			if v := of.get("path"); v != nil {
				if s, ok := p.name(v, path+".path"); ok {
					o.Path = resolve(dir, s)
				}
			} else {
				p.errorf(n, path, "missing field \"path\"")
			}
			for _, prev := range sc.Objects {
				if o.Name != "" && prev.Name == o.Name {
					p.errorf(n, path, "object name %q already used at %s", o.Name, prev.Pos)
				}
			}
			sc.Objects = append(sc.Objects, o)
		}
	}
	if n := f.get("create_maps"); n != nil {
		for i, e := range p.sequence(n, "create_maps") {
			sc.CreateMaps = append(sc.CreateMaps, p.mapDecl(e, fmt.Sprintf("create_maps[%d]", i)))
		}
	}
	if n := f.get("programs"); n != nil {
		for i, e := range p.sequence(n, "programs") {
			if pr := p.program(e, fmt.Sprintf("programs[%d]", i)); pr != nil {
				pr.ID = ProgID(len(sc.Programs))
				sc.Programs = append(sc.Programs, pr)
			}
		}
	}
	if n := f.get("listeners"); n != nil {
		for i, e := range p.sequence(n, "listeners") {
			path := fmt.Sprintf("listeners[%d]", i)
			lf, _ := p.mapping(e, path, "name", "addr")
			l := &Listener{Pos: p.pos(e)}
			if v := lf.get("name"); v != nil {
				l.Name, _ = p.name(v, path+".name")
			} else {
				p.errorf(e, path, "missing field \"name\"")
			}
			if v := lf.get("addr"); v != nil {
				l.Addr, _ = p.addrPort(v, path+".addr")
			} else {
				l.Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 3, byte(i + 1)}), 0)
			}
			sc.Listeners = append(sc.Listeners, l)
		}
	}
	if n := f.get("connections"); n != nil {
		for i, e := range p.sequence(n, "connections") {
			path := fmt.Sprintf("connections[%d]", i)
			cf, _ := p.mapping(e, path, "name", "client", "server")
			c := &Connection{Pos: p.pos(e)}
			if v := cf.get("name"); v != nil {
				c.Name, _ = p.name(v, path+".name")
			} else {
				p.errorf(e, path, "missing field \"name\"")
			}
			// Default addresses: 127.0.1.n and 127.0.2.n for the first
			// 254 connections, then 127.k.1.n and 127.k.2.n (k = i/254).
			if i >= 254*255 {
				p.errorf(e, path, "too many connections (at most %d)", 254*255)
			}
			hi, lo := byte(i/254), byte(i%254+1)
			c.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, hi, 1, lo}), 0)
			c.Server = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, hi, 2, lo}), 0)
			if v := cf.get("client"); v != nil {
				c.Client, _ = p.addrPort(v, path+".client")
			}
			if v := cf.get("server"); v != nil {
				c.Server, _ = p.addrPort(v, path+".server")
			}
			if c.Client.Addr().Is4() != c.Server.Addr().Is4() {
				p.errorf(e, path, "client %s and server %s are of different address families", c.Client.Addr(), c.Server.Addr())
			}
			sc.Connections = append(sc.Connections, c)
		}
	}
	if n := f.get("maps"); n != nil {
		for i, e := range p.sequence(n, "maps") {
			path := fmt.Sprintf("maps[%d]", i)
			s := &Step{Pos: p.pos(e), Number: i + 1, Kind: StepUpdate}
			mf, _ := p.mapping(e, path, stepFields[StepUpdate]...)
			p.stepBody(s, mf, path)
			sc.Maps = append(sc.Maps, s)
		}
	}
	if n := f.get("steps"); n != nil {
		for i, e := range p.sequence(n, "steps") {
			if s := p.step(e, fmt.Sprintf("steps[%d]", i)); s != nil {
				s.Number = i + 1
				sc.Steps = append(sc.Steps, s)
			}
		}
	}
	return sc
}

func resolve(dir, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

func (p *parser) addrPort(n *yaml.Node, path string) (netip.AddrPort, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return netip.AddrPort{}, false
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	// An IPv6 address may be bracketed without a port ("[fd00::1]"), as
	// people write it next to bracketed addresses with ports.
	bare := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		bare = s[1 : len(s)-1]
	}
	if a, err := netip.ParseAddr(bare); err == nil && a.Zone() == "" && (bare == s || a.Is6()) {
		return netip.AddrPortFrom(a.Unmap(), 0), true
	}
	p.errorf(n, path, "%q is not an address (expected 10.0.0.1, 10.0.0.1:80, fd00::1, [fd00::1] or [fd00::1]:80)", s)
	return netip.AddrPort{}, false
}

var mapTypes = map[string]ebpf.MapType{"sockmap": ebpf.SockMap, "sockhash": ebpf.SockHash, "array": ebpf.Array, "hash": ebpf.Hash}

func (p *parser) mapDecl(n *yaml.Node, path string) *MapDecl {
	f, _ := p.mapping(n, path, "name", "type", "key_size", "value_size", "max_entries", "flags")
	d := &MapDecl{Pos: p.pos(n)}
	for _, req := range []string{"name", "type", "key_size", "value_size", "max_entries"} {
		if !f.has(req) && f.vals != nil {
			p.errorf(n, path, "missing field %q", req)
		}
	}
	if v := f.get("name"); v != nil {
		d.Name, _ = p.name(v, path+".name")
	}
	if v := f.get("type"); v != nil {
		if s, ok := p.str(v, path+".type"); ok {
			t, ok := mapTypes[s]
			if !ok {
				p.errorf(v, path+".type", "unknown map type %q (expected one of sockmap, sockhash, array, hash)", s)
			}
			d.Type = t
		}
	}
	u32 := func(k string) uint32 {
		if v := f.get(k); v != nil {
			x, _ := p.uinteger(v, path+"."+k, 32)
			return uint32(x)
		}
		return 0
	}
	d.KeySize, d.ValueSize, d.MaxEntries, d.Flags = u32("key_size"), u32("value_size"), u32("max_entries"), u32("flags")
	return d
}

func (p *parser) program(n *yaml.Node, path string) *Program {
	f, _ := p.mapping(n, path, "program", "object", "attach", "map", "expect")
	pr := &Program{Pos: p.pos(n), Map: NoMap, FieldPos: p.positions(f)}
	if f.vals == nil {
		return nil
	}
	if v := f.get("program"); v != nil {
		pr.Name, _ = p.name(v, path+".program")
	} else {
		p.errorf(n, path, "missing field \"program\"")
	}
	if v := f.get("object"); v != nil {
		pr.ObjectName, _ = p.name(v, path+".object")
	}
	if v := f.get("attach"); v != nil {
		pr.Attach = p.attachKind(v, path+".attach")
	}
	if v := f.get("map"); v != nil {
		pr.MapRef, _ = p.name(v, path+".map")
	}
	if v := f.get("expect"); v != nil {
		ef, _ := p.mapping(v, path+".expect", "rejected")
		if r := ef.get("rejected"); r != nil {
			pr.ExpectRejected, _ = p.boolean(r, path+".expect.rejected")
		}
	}
	return pr
}

func (p *parser) attachKind(n *yaml.Node, path string) ebpf.AttachType {
	s, ok := p.str(n, path)
	if !ok {
		return ebpf.AttachNone
	}
	k, ok := ParseAttach(s)
	if !ok {
		p.errorf(n, path, "unknown attach type %q (expected one of sk_msg, stream_parser, stream_verdict, skb_verdict, sockops)", s)
	}
	return k
}

var stepKinds = []string{"send", "recv", "lookup", "update", "delete", "close", "connect", "attach", "detach", "fionread", "shutdown", "sockopt", "events", "stream"}

var stepFields = map[StepKind][]string{
	StepSend:     {"socket", "data", "hex", "size", "pattern", "iov", "flags", "expect"},
	StepRecv:     {"socket", "data", "hex", "size", "pattern", "max", "peek", "eof", "expect"},
	StepLookup:   {"map", "key", "value", "cookie_of", "sum", "values", "expect"},
	StepUpdate:   {"map", "key", "value", "socket", "flags", "expect"},
	StepDelete:   {"map", "key", "expect"},
	StepClose:    {"socket", "expect"},
	StepConnect:  {"name", "to", "client", "expect"},
	StepAttach:   {"program", "object", "map", "attach", "expect"},
	StepDetach:   {"program", "object", "map", "attach", "expect"},
	StepFionread: {"socket", "value", "expect"},
	StepShutdown: {"socket", "how", "expect"},
	StepSockopt:  {"socket", "name", "value", "expect"},
	StepEvents:   {"map", "records", "count", "prefix", "expect"},
	StepStream:   {"from", "to", "size", "pattern", "chunk", "expect"},
}

func (p *parser) step(n *yaml.Node, path string) *Step {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "expected a step (a mapping with one of %s), found %s", strings.Join(stepKinds, ", "), kindName(n))
		return nil
	}
	f, _ := p.mapping(n, path, append(append([]string{}, stepKinds...), "expect")...)
	var kind string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if contains(stepKinds, k) {
			if kind != "" {
				p.errorf(n.Content[i], path, "a step does one thing: found both %q and %q", kind, k)
				continue
			}
			kind = k
		}
	}
	if kind == "" {
		p.errorf(n, path, "missing the operation (expected one of %s)", strings.Join(stepKinds, ", "))
		return nil
	}
	s := &Step{Pos: p.pos(n), Kind: StepKind(kind)}
	body := f.get(kind)
	bpath := path + "." + kind
	bf, _ := p.mapping(body, bpath, stepFields[s.Kind]...)
	if outer := f.get("expect"); outer != nil {
		if bf.has("expect") {
			p.errorf(outer, path+".expect", "expect given both here and inside %s", kind)
		} else {
			if bf.vals == nil {
				bf.vals = map[string]*yaml.Node{}
			}
			bf.vals["expect"] = outer
		}
	}
	p.stepBody(s, bf, bpath)
	return s
}

var sendFlags = []string{"MSG_DONTWAIT", "MSG_MORE", "MSG_OOB", "MSG_NOSIGNAL", "MSG_EOR"}
var sockopts = []string{"SO_RCVBUF", "SO_SNDBUF", "SO_RCVLOWAT", "SO_SNDLOWAT", "SO_KEEPALIVE", "TCP_NODELAY"}

func (p *parser) stepBody(s *Step, f fields, path string) {
	if f.vals == nil {
		return
	}
	s.FieldPos = p.positions(f)
	need := func(k string) *yaml.Node {
		v := f.get(k)
		if v == nil {
			p.errorf(f.node, path, "missing field %q", k)
		}
		return v
	}
	socket := func() {
		if v := need("socket"); v != nil {
			s.Socket, _ = p.name(v, path+".socket")
		}
	}
	mapKey := func() {
		if v := need("map"); v != nil {
			s.MapRef, _ = p.name(v, path+".map")
		}
		if v := need("key"); v != nil {
			s.Key = p.value(v, path+".key")
		}
	}
	if v := f.get("expect"); v != nil {
		s.Expect = p.expect(v, path+".expect", s.Kind)
	}
	switch s.Kind {
	case StepSend:
		socket()
		if v := f.get("iov"); v != nil {
			if f.has("data") || f.has("hex") || f.has("size") || f.has("pattern") {
				p.errorf(v, path+".iov", "give either iov or data/hex/size, not both")
			}
			for i, e := range p.sequence(v, path+".iov") {
				ipath := fmt.Sprintf("%s.iov[%d]", path, i)
				if e.Kind == yaml.ScalarNode {
					s.IOV = append(s.IOV, Payload{Pos: p.pos(e), Data: []byte(e.Value)})
					continue
				}
				ef, _ := p.mapping(e, ipath, "data", "hex", "size", "pattern")
				if pl := p.payload(ef, ipath, true); pl != nil {
					s.IOV = append(s.IOV, *pl)
				}
			}
		} else if pl := p.payload(f, path, true); pl != nil {
			s.IOV = []Payload{*pl}
		}
		if v := f.get("flags"); v != nil {
			var items []*yaml.Node
			if v.Kind == yaml.ScalarNode {
				items = []*yaml.Node{v}
			} else {
				items = p.sequence(v, path+".flags")
			}
			for _, it := range items {
				if fl, ok := p.str(it, path+".flags"); ok {
					if !contains(sendFlags, fl) {
						p.errorf(it, path+".flags", "unknown flag %q (expected any of %s)", fl, strings.Join(sendFlags, ", "))
						continue
					}
					s.SendFlags = append(s.SendFlags, fl)
				}
			}
		}
	case StepRecv:
		socket()
		s.Want = p.payload(f, path, false)
		if v := f.get("max"); v != nil {
			if m, ok := p.integer(v, path+".max", 32); ok {
				if m <= 0 {
					p.errorf(v, path+".max", "must be positive")
				}
				s.Max = int(m)
			}
		}
		if v := f.get("peek"); v != nil {
			s.Peek, _ = p.boolean(v, path+".peek")
		}
		if v := f.get("eof"); v != nil {
			if b, ok := p.boolean(v, path+".eof"); ok {
				s.EOF = &b
			}
		}
	case StepLookup:
		mapKey()
		if v := f.get("value"); v != nil {
			val := p.value(v, path+".value")
			s.Value = &val
		}
		if v := f.get("cookie_of"); v != nil {
			s.CookieOf, _ = p.name(v, path+".cookie_of")
			if s.Value != nil {
				p.errorf(v, path+".cookie_of", "give either value or cookie_of, not both")
			}
		}
		p.perCPULookup(s, f, path)
	case StepUpdate:
		mapKey()
		if v := f.get("value"); v != nil {
			val := p.value(v, path+".value")
			s.Value = &val
		}
		if v := f.get("socket"); v != nil {
			s.SockValue, _ = p.name(v, path+".socket")
			if s.Value != nil {
				p.errorf(v, path+".socket", "give either value or socket, not both")
			}
		} else if s.Value == nil {
			p.errorf(f.node, path, "missing field \"value\" or \"socket\"")
		}
		if v := f.get("flags"); v != nil {
			if fl, ok := p.str(v, path+".flags"); ok {
				switch fl {
				case "ANY":
					s.MapFlags = ebpf.UpdateAny
				case "NOEXIST":
					s.MapFlags = ebpf.UpdateNoExist
				case "EXIST":
					s.MapFlags = ebpf.UpdateExist
				default:
					p.errorf(v, path+".flags", "unknown flag %q (expected one of ANY, NOEXIST, EXIST)", fl)
				}
				s.MapFlagStr = fl
			}
		}
	case StepDelete:
		mapKey()
	case StepClose:
		socket()
	case StepConnect:
		if v := need("name"); v != nil {
			s.Name, _ = p.name(v, path+".name")
		}
		if v := need("to"); v != nil {
			s.To, _ = p.name(v, path+".to")
		}
		if v := f.get("client"); v != nil {
			s.Client, _ = p.addrPort(v, path+".client")
		}
	case StepAttach, StepDetach:
		pr := &Program{Pos: s.Pos, Map: NoMap, FieldPos: s.FieldPos}
		if v := need("program"); v != nil {
			pr.Name, _ = p.name(v, path+".program")
		}
		if v := f.get("object"); v != nil {
			pr.ObjectName, _ = p.name(v, path+".object")
		}
		if v := f.get("map"); v != nil {
			pr.MapRef, _ = p.name(v, path+".map")
		}
		if v := need("attach"); v != nil {
			pr.Attach = p.attachKind(v, path+".attach")
		}
		s.Program, s.Attach = pr, pr.Attach
	case StepFionread:
		socket()
		if v := f.get("value"); v != nil {
			if x, ok := p.integer(v, path+".value", 32); ok {
				s.IntValue = &x
			}
		}
	case StepShutdown:
		socket()
		if v := need("how"); v != nil {
			if h, ok := p.str(v, path+".how"); ok {
				switch h {
				case "rd":
					s.How = 0
				case "wr":
					s.How = 1
				case "rdwr":
					s.How = 2
				default:
					p.errorf(v, path+".how", "unknown %q (expected one of rd, wr, rdwr)", h)
				}
			}
		}
	case StepEvents:
		p.events(s, f, path, need)
	case StepStream:
		p.stream(s, f, path, need)
	case StepSockopt:
		socket()
		if v := need("name"); v != nil {
			if o, ok := p.str(v, path+".name"); ok {
				if !contains(sockopts, o) {
					p.errorf(v, path+".name", "unknown option %q (expected one of %s)", o, strings.Join(sockopts, ", "))
				}
				s.OptName = o
			}
		}
		if v := need("value"); v != nil {
			if x, ok := p.integer(v, path+".value", 32); ok {
				s.IntValue = &x
			}
		}
	}
}

// payload reads data/hex/size+pattern; for recv all may be absent (nil).
func (p *parser) payload(f fields, path string, required bool) *Payload {
	var given []string
	for _, k := range []string{"data", "hex", "size"} {
		if f.has(k) {
			given = append(given, k)
		}
	}
	if f.has("pattern") && !f.has("size") {
		p.errorf(f.get("pattern"), path+".pattern", "pattern needs size")
		return nil
	}
	if len(given) > 1 {
		p.errorf(f.get(given[1]), path+"."+given[1], "give one of data, hex or size+pattern, not %s", strings.Join(given, " and "))
		return nil
	}
	if len(given) == 0 {
		if required {
			p.errorf(f.node, path, "missing payload (expected data, hex or size with pattern)")
		}
		return nil
	}
	pl := &Payload{Pos: p.pos(f.get(given[0]))}
	switch given[0] {
	case "data":
		s, ok := p.str(f.get("data"), path+".data")
		if !ok {
			return nil
		}
		pl.Data = []byte(s)
	case "hex":
		s, ok := p.str(f.get("hex"), path+".hex")
		if !ok {
			return nil
		}
		b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			p.errorf(f.get("hex"), path+".hex", "invalid hex (expected pairs of hex digits): %v", err)
			return nil
		}
		pl.Data = b
	case "size":
		n, ok := p.integer(f.get("size"), path+".size", 32)
		if !ok {
			return nil
		}
		if n < 0 || n > 1<<30 {
			p.errorf(f.get("size"), path+".size", "size %d out of range (0 to 1073741824)", n)
			return nil
		}
		pl.Size = int(n)
		v := f.get("pattern")
		if v == nil {
			p.errorf(f.get("size"), path+".size", "size needs a pattern (seq, zero or random)")
			return nil
		}
		s, ok := p.str(v, path+".pattern")
		if !ok {
			return nil
		}
		pat, ok := patternNames[s]
		if !ok {
			p.errorf(v, path+".pattern", "unknown pattern %q (expected one of seq, zero, random)", s)
			return nil
		}
		pl.Pattern = pat
	}
	return pl
}

func (p *parser) value(n *yaml.Node, path string) Value {
	v := Value{Pos: p.pos(n)}
	s, ok := p.str(n, path)
	if !ok {
		return v
	}
	v.Text = s
	b, err := EncodeValue(s)
	if err != nil {
		p.errorf(n, path, "%v", err)
		return v
	}
	v.Bytes = b
	return v
}

func (p *parser) expect(n *yaml.Node, path string, kind StepKind) Expect {
	allowed := []string{"error"}
	if kind == StepSend || kind == StepRecv || kind == StepFionread {
		allowed = []string{"ret", "error"}
	}
	if kind == StepStream {
		allowed = []string{"received", "error"}
	}
	f, _ := p.mapping(n, path, allowed...)
	e := Expect{Pos: p.pos(n)}
	if v := f.get("received"); v != nil {
		if x, ok := p.integer(v, path+".received", 64); ok {
			if x < 0 {
				p.errorf(v, path+".received", "must not be negative")
			}
			e.Received = &x
		}
	}
	if v := f.get("ret"); v != nil {
		if x, ok := p.integer(v, path+".ret", 64); ok {
			e.Ret = &x
		}
	}
	if v := f.get("error"); v != nil {
		if s, ok := p.str(v, path+".error"); ok {
			en, ok := ParseErrno(s)
			if !ok {
				p.errorf(v, path+".error", "unknown errno %q (expected one of %s)", s, errnoList())
			}
			e.Errno = en
		}
		if e.Ret != nil {
			p.errorf(v, path+".error", "give either ret or error, not both")
		}
	}
	return e
}

// sortedKeys is for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
