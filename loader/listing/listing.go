package listing

import (
	"fmt"
	"io"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/skmsg/skmsg/loader"
)

// Write prints p as a listing: a header (name, section, type, size, maps),
// then each instruction with its slot index, preceded by the C source line
// it came from whenever that changes, and a label at each function start.
// A program skmsg cannot run (Program.Unsupported) says so and why under
// its header.
func Write(w io.Writer, p *loader.ProgramSpec) error {
	mark := ""
	if p.Unsupported != nil {
		mark = "skmsg cannot run this program: " + p.Unsupported.Error()
	}
	return WriteMarked(w, p, mark)
}

// WriteMarked is Write with a remark under the header given by the caller
// ("" for none): why skmsg cannot run the program, or why the verifier
// refuses it, found when the program was prepared.
func WriteMarked(w io.Writer, p *loader.ProgramSpec, mark string) error {
	slots := 0
	for _, ins := range p.Instructions {
		slots += int(ins.Width())
	}
	attach := ""
	if p.AttachType != 0 {
		attach = fmt.Sprintf(", attach %s", p.AttachType)
	}
	legacy := ""
	switch {
	case p.Overridden:
		legacy = " (type given explicitly)"
	case p.LegacySection:
		legacy = " (legacy section name)"
	}
	bw := &errWriter{w: w}
	core := ""
	if p.CORERelocations > 0 {
		core = fmt.Sprintf(", %d CO-RE relocations applied", p.CORERelocations)
	}
	bw.printf("%s: section %s, type %s%s%s, %d instructions%s\n", p.Name, p.Section, p.Type, attach, legacy, slots, core)
	if len(p.Maps) > 0 {
		bw.printf("  maps: %s\n", strings.Join(p.Maps, ", "))
	}
	if mark != "" {
		bw.printf("  %s\n", mark)
	}
	dead := make(map[int]bool, len(p.DeadCORE))
	for _, d := range p.DeadCORE {
		dead[d.PC] = true
	}
	var last string
	iter := p.Instructions.Iterate()
	for iter.Next() {
		ins := iter.Ins
		if sym := ins.Symbol(); sym != "" && sym != p.Name {
			bw.printf("%s:\n", sym)
		}
		if src := ins.Source(); src != nil {
			if text := sourceText(src); text != "" && text != last {
				bw.printf("  ; %s\n", text)
				last = text
			}
		}
		pc := int(iter.Offset)
		note := ""
		if dead[pc] {
			note = "    ; dead code: unresolvable CO-RE access replaced by a no-op"
		}
		bw.printf("%6d: %s%s\n", pc, Format(*ins, pc), note)
	}
	return bw.err
}

func sourceText(src fmt.Stringer) string {
	if l, ok := src.(*btf.Line); ok {
		line := strings.TrimSpace(l.Line())
		if line == "" {
			return ""
		}
		return fmt.Sprintf("%s  [%s:%d]", line, l.FileName(), l.LineNumber())
	}
	return strings.TrimSpace(src.String())
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
