package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/loader/listing"
	"github.com/skmsg/skmsg/runtime"
)

func init() {
	register(&command{
		Name:    "disasm",
		Summary: "list the programs and maps of a BPF object with their C source",
		Usage: `usage: skmsg-run disasm [--program NAME] [--type NAME=TYPE]... OBJ

Prints the maps of OBJ and each program (name, section, type, instruction
count) as a listing with the C source lines interleaved (from BTF line
info) and map references by name.

  --program NAME    list only this program
  --type NAME=TYPE  set the type of program or section NAME, for section
                    names no loader convention knows; TYPE is a libbpf
                    section name (sk_msg, sk_skb/stream_parser,
                    sk_skb/stream_verdict, sk_skb/verdict, sockops, ...)

Exit status: 0 listed, 1 output failed, 2 unusable object or arguments.`,
		Run: runDisasm,
	})
}

func runDisasm(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("disasm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	program := fs.String("program", "", "list only this program")
	var types typeFlags
	fs.Var(&types, "type", "NAME=TYPE: type of a program or section")
	fs.Usage = func() { fmt.Fprintln(stderr, strings.TrimSpace(commands["disasm"].Usage)) }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "skmsg-run disasm: want exactly one object file")
		fs.Usage()
		return exitUsage
	}
	obj, err := loader.Open(pos[0], types...)
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run disasm: %v\n", err)
		return exitUsage
	}
	progs := obj.ProgramList
	if *program != "" {
		p, err := obj.Program(*program)
		if err != nil {
			fmt.Fprintf(stderr, "skmsg-run disasm: %s: %v\n", pos[0], err)
			return exitUsage
		}
		progs = []*loader.ProgramSpec{p}
	}

	marks := programMarks(obj)
	w := &countingWriter{w: stdout}
	fmt.Fprintf(w, "%s: %d programs, %d maps\n", pos[0], len(obj.ProgramList), len(obj.MapList))
	for _, m := range obj.MapList {
		fmt.Fprintf(w, "map %s: %s", m.Name, describeMap(m))
		fmt.Fprintln(w)
	}
	for _, p := range progs {
		fmt.Fprintln(w)
		if err := listing.WriteMarked(w, p, marks[p.Name]); err != nil {
			break
		}
	}
	if w.err != nil {
		fmt.Fprintf(stderr, "skmsg-run disasm: writing output: %v\n", w.err)
		return exitFailure
	}
	return exitOK
}

// cannotRunMark starts the mark of a program skmsg cannot run.
const cannotRunMark = "skmsg cannot run this program: "

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// programMarks prepares the object's programs as a run would and says,
// for each one that would not run, why: what skmsg cannot emulate (a
// kfunc, an unresolvable CO-RE access, a helper it does not implement, a
// program type it does not run) or what the verifier refuses. An object
// whose maps cannot be created gets the loader's marks only.
func programMarks(obj *loader.Object) map[string]string {
	marks := map[string]string{}
	for _, p := range obj.ProgramList {
		if p.Unsupported != nil {
			marks[p.Name] = cannotRunMark + p.Unsupported.Error()
		}
	}
	rt := runtime.New(runtime.Options{})
	defer rt.Close()
	coll, err := rt.Load(obj)
	if err != nil {
		return marks
	}
	for name, why := range coll.Rejected {
		if errors.Is(why, loader.ErrNotSupported) {
			marks[name] = cannotRunMark + why.Error()
		} else {
			marks[name] = "the verifier refuses this program: " + why.Error()
		}
	}
	return marks
}

func describeMap(m *loader.MapSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s key %d value %d", m.Type, m.KeySize, m.ValueSize)
	if m.OnePerCPU {
		b.WriteString(" max_entries one per CPU")
	} else {
		fmt.Fprintf(&b, " max_entries %d", m.MaxEntries)
	}
	if m.Flags != 0 {
		fmt.Fprintf(&b, " flags %#x", m.Flags)
	}
	if m.GlobalData {
		b.WriteString(" (global data")
		if m.ReadOnly {
			b.WriteString(", read-only")
		}
		b.WriteString(")")
	}
	if m.InnerMap != nil {
		fmt.Fprintf(&b, " inner %s", m.InnerMap.Type)
	}
	if m.Legacy != nil {
		fmt.Fprintf(&b, " (legacy %d-byte definition)", m.Legacy.Size)
	}
	if !m.GlobalData {
		for _, kv := range m.Contents {
			if name, ok := kv.Value.(string); ok {
				fmt.Fprintf(&b, " [%v]=%s", kv.Key, name)
			}
		}
	}
	return b.String()
}

// countingWriter remembers the first write error so that a long listing is
// not checked line by line.
type countingWriter struct {
	w   io.Writer
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.err = err
	return n, err
}
