package debugger

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/skmsg/skmsg/vm"
)

// lineKey names a C source line: the file as BTF line info records it and
// the line number. Two instructions are on the same line when their keys
// are equal.
type lineKey struct {
	file string
	line int
}

func (k lineKey) valid() bool { return k.file != "" && k.line > 0 }

// program is what the engine knows of one prepared program: an id for
// addresses, the source line of every instruction slot and the functions
// (the entry point and its bpf-to-bpf subprograms).
type program struct {
	id   int
	name string
	vm   *vm.Program
	// lines[slot] is the line info record the slot belongs to: BTF marks
	// the first instruction of each line, the following ones inherit it.
	lines []*btf.Line
	// stmt[slot] is set when the slot carries its own record: the first
	// instruction of a statement, where a line breakpoint stops.
	stmt  []bool
	funcs []function
	ctx   *ctxType // lazily, from BTF
}

// function is an entry point or subprogram, by the slot it starts at.
type function struct {
	name  string
	start int
}

func newProgram(id int, p *vm.Program) *program {
	n := p.NumInsns()
	pr := &program{id: id, name: p.Name, vm: p, lines: make([]*btf.Line, n), stmt: make([]bool, n)}
	var cur *btf.Line
	for slot := 0; slot < n; slot++ {
		i := p.InsnIndex(slot)
		if i >= 0 {
			ins := p.Insns[i]
			if l, ok := ins.Source().(*btf.Line); ok && l.LineNumber() > 0 {
				cur = l
				pr.stmt[slot] = true
			}
			if sym := ins.Symbol(); sym != "" {
				pr.funcs = append(pr.funcs, function{name: sym, start: slot})
			}
		}
		pr.lines[slot] = cur
	}
	if len(pr.funcs) == 0 || pr.funcs[0].start != 0 {
		pr.funcs = append([]function{{name: p.Name, start: 0}}, pr.funcs...)
	}
	return pr
}

// line returns the source line of slot, if the program has line info.
func (p *program) line(slot int) (*btf.Line, lineKey) {
	if slot < 0 || slot >= len(p.lines) || p.lines[slot] == nil {
		return nil, lineKey{}
	}
	l := p.lines[slot]
	return l, lineKey{file: l.FileName(), line: int(l.LineNumber())}
}

// function returns the function slot belongs to.
func (p *program) function(slot int) function {
	i := sort.Search(len(p.funcs), func(i int) bool { return p.funcs[i].start > slot })
	if i == 0 {
		return p.funcs[0]
	}
	return p.funcs[i-1]
}

// insn returns the instruction at slot.
func (p *program) insn(slot int) (asm.Instruction, bool) { return p.vm.Insn(slot) }

// sources finds C files named by BTF line info on disk and caches their
// lines. BTF records the path the compiler was given (often relative to
// the directory make ran in), so a name is looked up as given, then
// relative to each root and its parent directories, then by its base name
// in each root.
type sources struct {
	roots    []string
	resolved map[string]string   // BTF file name -> absolute path ("" when not found)
	text     map[string][]string // absolute path -> lines
}

func newSources(roots []string) *sources {
	return &sources{roots: roots, resolved: map[string]string{}, text: map[string][]string{}}
}

// path returns where the file BTF calls name is, or "".
func (s *sources) path(name string) string {
	if p, ok := s.resolved[name]; ok {
		return p
	}
	p := s.find(name)
	s.resolved[name] = p
	return p
}

func (s *sources) find(name string) string {
	if name == "" {
		return ""
	}
	if filepath.IsAbs(name) {
		if exists(name) {
			return name
		}
	} else if exists(name) {
		if a, err := filepath.Abs(name); err == nil {
			return a
		}
	}
	for _, root := range s.roots {
		for dir := root; ; {
			c := filepath.Join(dir, name)
			if exists(c) {
				return c
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	for _, root := range s.roots {
		if c := filepath.Join(root, filepath.Base(name)); exists(c) {
			return c
		}
	}
	return ""
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// lines returns the text of a file found by path, nil when unreadable.
func (s *sources) lines(path string) []string {
	if t, ok := s.text[path]; ok {
		return t
	}
	var out []string
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		f.Close()
	}
	s.text[path] = out
	return out
}

// sameFile reports whether a path a client gave names the file BTF calls
// name, resolved to resolved ("" when it was not found on disk).
func sameFile(client, name, resolved string) bool {
	if client == "" {
		return false
	}
	if resolved != "" {
		if a, err := filepath.Abs(client); err == nil && filepath.Clean(a) == filepath.Clean(resolved) {
			return true
		}
	}
	c := filepath.ToSlash(filepath.Clean(client))
	n := filepath.ToSlash(filepath.Clean(name))
	return c == n || strings.HasSuffix(c, "/"+n) || strings.HasSuffix(n, "/"+c)
}
