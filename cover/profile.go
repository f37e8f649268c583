package cover

import (
	"cmp"
	"slices"

	"github.com/cilium/ebpf/btf"
)

// Profile is a snapshot of coverage: per program and per source file.
type Profile struct {
	// Programs in the order of their objects and names.
	Programs []*Program
	// Files are the source files the programs' line info names, sorted.
	Files []*File
}

// Program is the coverage of one program (all loads of it added up).
type Program struct {
	Object string // the path given to Recorder.Add; "" when not named
	Name   string
	// Runs is how often the program's first instruction ran.
	Runs uint64
	// Insns counts instruction slots' instructions; InsnsHit those that ran.
	Insns, InsnsHit int
	// Lines counts distinct source lines with instructions of the program;
	// LinesHit those of which at least one instruction ran.
	Lines, LinesHit int
	// Branches counts directions of conditional jumps (two per jump);
	// BranchesHit the directions taken at least once.
	Branches, BranchesHit int
	// Slots is per instruction: counts and source line.
	Slots []Slot
}

// Slot is one instruction of a program.
type Slot struct {
	PC   int
	Hits uint64
	// Branch is set for a conditional jump: how often it jumped and how
	// often it fell through.
	Branch          bool
	Taken, FellThru uint64
	// File and Line locate the instruction in the source (BTF line info);
	// Line is 0 for instructions without one.
	File string
	Line int
	Text string // the line's text, from the line info
	// Func is set on the first instruction of a function: the program's
	// name or a subprogram's symbol.
	Func string
}

// File is the coverage of one source file, added up over every program
// with instructions in it.
type File struct {
	Name string // as the line info records it (often relative to the build directory)
	// Path is where the source is on this machine, set by FindSources;
	// "" when it was not found.
	Path string
	// Lines with instructions, sorted by number.
	Lines []*Line
	// Functions are the programs and subprograms starting in the file.
	Functions []Function
}

// Line is one source line with instructions.
type Line struct {
	Number int
	// Text is the line as BTF line info records it.
	Text string
	// Hits is the highest execution count of its instructions.
	Hits uint64
	// Insns counts the line's instructions; InsnsHit those that ran.
	Insns, InsnsHit int
	Branches        []Branch
}

// Branch is one conditional jump on a line.
type Branch struct {
	Program         string
	PC              int
	Taken, FellThru uint64
}

// Function is a program or subprogram entry in a file.
type Function struct {
	Name string
	Line int
	Hits uint64
}

// State says how much of a line ran.
type State uint8

const (
	Never   State = iota // no instruction of the line ran
	Partly               // some ran, or a branch on it went one way only
	Covered              // every instruction ran and every branch went both ways
)

// State of the line.
func (l *Line) State() State {
	switch {
	case l.InsnsHit == 0:
		return Never
	case l.InsnsHit < l.Insns:
		return Partly
	}
	for _, b := range l.Branches {
		if b.Taken == 0 || b.FellThru == 0 {
			return Partly
		}
	}
	return Covered
}

// Percent is hit/total in percent, 100 when there is nothing to cover.
func Percent(hit, total int) float64 {
	if total == 0 {
		return 100
	}
	return 100 * float64(hit) / float64(total)
}

// Profile returns the coverage recorded so far. Loads of the same program
// of the same object (the same name and instructions) are added up.
func (r *Recorder) Profile() *Profile {
	type key struct {
		object, name string
		n            int
	}
	merged := map[key]*Program{}
	var progs []*Program
	for _, c := range r.snapshot() {
		k := key{c.object, c.p.Name, len(c.hits)}
		p := merged[k]
		if p == nil {
			p = newProgram(c)
			merged[k] = p
			progs = append(progs, p)
		}
		for pc := range c.hits {
			s := &p.Slots[pc]
			s.Hits += c.hits[pc]
			s.Taken += c.taken[pc]
			s.FellThru += c.fell[pc]
		}
	}
	slices.SortStableFunc(progs, func(a, b *Program) int {
		return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Name, b.Name))
	})
	files := map[string]*File{}
	lines := map[string]map[int]*Line{}
	for _, p := range progs {
		p.summarise()
		p.addTo(files, lines)
	}
	prof := &Profile{Programs: progs}
	for _, f := range files {
		for _, l := range lines[f.Name] {
			f.Lines = append(f.Lines, l)
		}
		slices.SortFunc(f.Lines, func(a, b *Line) int { return cmp.Compare(a.Number, b.Number) })
		slices.SortFunc(f.Functions, func(a, b Function) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Name, b.Name))
		})
		prof.Files = append(prof.Files, f)
	}
	slices.SortFunc(prof.Files, func(a, b *File) int { return cmp.Compare(a.Name, b.Name) })
	return prof
}

// newProgram lays out the slots of c's program with their source lines:
// BTF line info marks the first instruction of each line, the others
// inherit it; line 0 marks code the compiler made up.
func newProgram(c *counts) *Program {
	p := &Program{Object: c.object, Name: c.p.Name, Slots: make([]Slot, len(c.hits))}
	var file, text string
	var line int
	for pc := range p.Slots {
		s := &p.Slots[pc]
		s.PC = pc
		s.Branch = c.cond[pc]
		ins, ok := c.p.Insn(pc)
		if !ok {
			s.Line = -1 // second half of an LD_IMM64: not an instruction of its own
			continue
		}
		if l, ok := ins.Source().(*btf.Line); ok {
			file, line, text = l.FileName(), int(l.LineNumber()), l.Line()
		}
		if line > 0 {
			s.File, s.Line, s.Text = file, line, text
		}
		s.Func = ins.Symbol()
		if pc == 0 && s.Func == "" {
			s.Func = c.p.Name
		}
	}
	return p
}

func (p *Program) summarise() {
	type fl struct {
		file string
		line int
	}
	seen := map[fl]bool{}
	for _, s := range p.Slots {
		if s.Line < 0 {
			continue
		}
		p.Insns++
		if s.Hits > 0 {
			p.InsnsHit++
		}
		if s.Branch {
			p.Branches += 2
			if s.Taken > 0 {
				p.BranchesHit++
			}
			if s.FellThru > 0 {
				p.BranchesHit++
			}
		}
		if s.Line > 0 {
			k := fl{s.File, s.Line}
			hit, ok := seen[k]
			seen[k] = hit || s.Hits > 0
			if !ok {
				p.Lines++
			}
		}
	}
	for _, hit := range seen {
		if hit {
			p.LinesHit++
		}
	}
	if len(p.Slots) > 0 {
		p.Runs = p.Slots[0].Hits
	}
}

// addTo adds p's lines and functions to the per-file view.
func (p *Program) addTo(files map[string]*File, lines map[string]map[int]*Line) {
	for _, s := range p.Slots {
		if s.Line <= 0 {
			continue
		}
		f := files[s.File]
		if f == nil {
			f = &File{Name: s.File}
			files[s.File] = f
			lines[s.File] = map[int]*Line{}
		}
		l := lines[s.File][s.Line]
		if l == nil {
			l = &Line{Number: s.Line}
			lines[s.File][s.Line] = l
		}
		if l.Text == "" {
			l.Text = s.Text
		}
		if s.Func != "" {
			f.addFunction(s.Func, s.Line, s.Hits)
		}
		l.Insns++
		if s.Hits > 0 {
			l.InsnsHit++
		}
		l.Hits = max(l.Hits, s.Hits)
		if s.Branch {
			l.Branches = append(l.Branches, Branch{Program: p.Name, PC: s.PC, Taken: s.Taken, FellThru: s.FellThru})
		}
	}
}

// addFunction records a function entry; the same function in several
// programs (a subprogram each of them links) adds up.
func (f *File) addFunction(name string, line int, hits uint64) {
	for i := range f.Functions {
		if fn := &f.Functions[i]; fn.Name == name && fn.Line == line {
			fn.Hits += hits
			return
		}
	}
	f.Functions = append(f.Functions, Function{Name: name, Line: line, Hits: hits})
}
