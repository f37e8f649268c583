package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/loader/listing"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
	"github.com/skmsg/skmsg/vm"
)

// ANSI colours of the terminal output.
const (
	bold   = "1"
	dim    = "2"
	red    = "31"
	green  = "32"
	yellow = "33"
	blue   = "34"
	cyan   = "36"
)

// painter colours text when its output is a terminal.
type painter struct{ on bool }

func (p painter) paint(code, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// useColor decides --color: auto colours when w is a terminal.
func useColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		f, ok := w.(*os.File)
		if !ok {
			return false, nil
		}
		return isTerminal(f) && os.Getenv("NO_COLOR") == "", nil
	}
	return false, fmt.Errorf("--color %q: want auto, always or never", mode)
}

// writeProgramRun prints one program run: a header, the instructions
// executed (each new C source line before the instructions it produced),
// and the verdict.
func writeProgramRun(w io.Writer, r *emulated.ProgramRun, indent string, p painter) {
	on := ""
	if r.Socket != "" {
		on = " on " + r.Socket
	}
	size := ""
	if r.Type == "sk_msg" || r.Type == "sk_skb" {
		size = fmt.Sprintf(", %d bytes", r.Size)
	}
	fmt.Fprintf(w, "%s%s %s (%s)%s%s\n", indent, p.paint(bold, "program"), p.paint(bold, r.Program), r.Type, on, size)
	in := indent + "  "
	var lastSrc string
	for i := range r.Insns {
		ti := &r.Insns[i]
		// Line 0 marks code the compiler made up (no source line).
		if ti.Source != nil && ti.Source.LineNumber() != 0 {
			src := fmt.Sprintf("%s:%d", baseName(ti.Source.FileName()), ti.Source.LineNumber())
			if src != lastSrc {
				lastSrc = src
				fmt.Fprintf(w, "%s%s %s\n", in, p.paint(cyan, src+":"), p.paint(cyan, strings.TrimSpace(ti.Source.Line())))
			}
		}
		frame := ""
		if ti.Frame > 0 {
			frame = fmt.Sprintf("[%d]", ti.Frame)
		}
		line := fmt.Sprintf("%s  %s%5d: %-36s%s", in, frame, ti.PC, listing.Format(ti.Insn, ti.PC), effects(ti, p))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	if r.Truncated > 0 {
		fmt.Fprintf(w, "%s  … %d more instructions not kept\n", in, r.Truncated)
	}
	fmt.Fprintf(w, "%s%s\n", in, verdictString(r, p))
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// effects lists what an instruction did: changed registers, memory
// written, helper call.
func effects(ti *emulated.TracedInsn, p painter) string {
	var parts []string
	if h := ti.Helper; h != nil {
		args := make([]string, 0, 5)
		for i, a := range h.Args {
			if i == 0 && h.Format != "" {
				args = append(args, strconv.Quote(h.Format))
				continue
			}
			args = append(args, hexVal(a))
		}
		s := fmt.Sprintf("%s(%s) = %s", h.Name, strings.Join(args, ", "), signedVal(h.Ret))
		if h.Err != "" {
			s += " error: " + h.Err
		}
		parts = append(parts, p.paint(yellow, s))
	}
	for _, rc := range ti.Regs {
		if ti.Helper != nil && rc.Reg <= asm.R5 {
			// r0 is the result shown with the call; r1-r5 are
			// clobbered by it.
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%s", rc.Reg, hexVal(rc.After)))
	}
	if m := ti.Mem; m != nil {
		parts = append(parts, p.paint(blue, memString(m)))
	}
	if len(parts) == 0 {
		return ""
	}
	return p.paint(dim, "; ") + strings.Join(parts, " ")
}

func memString(m *vm.MemWrite) string {
	off := m.Addr & vm.OffsetMask
	region := m.Region
	if region == "" {
		region = fmt.Sprintf("%#x", m.Addr)
	}
	return fmt.Sprintf("%s[%d] ← %s (%d bytes)", region, off, hexVal(m.Value), m.Size)
}

func hexVal(v uint64) string {
	if v < 10 {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%#x", v)
}

// signedVal shows helper results as the kernel's negative errnos where
// they are.
func signedVal(v uint64) string {
	if s := int64(v); s < 0 && s > -4096 {
		return fmt.Sprint(s)
	}
	return hexVal(v)
}

func verdictString(r *emulated.ProgramRun, p painter) string {
	if r.Err != "" {
		return p.paint(red, fmt.Sprintf("stopped: %s (verdict %s)", r.Err, r.Verdict))
	}
	switch r.Verdict {
	case "":
		return fmt.Sprintf("returned %s", signedVal(r.Return))
	case "parser":
		// A stream parser's result is a frame length, 0 for "more
		// data needed" or a negative errno.
		n := int64(int32(uint32(r.Return)))
		switch {
		case n > 0:
			return fmt.Sprintf("%s frame of %d bytes", p.paint(bold, "parsed:"), n)
		case n == 0:
			return fmt.Sprintf("%s more data needed (returned 0)", p.paint(bold, "parsed:"))
		}
		return fmt.Sprintf("%s %s (returned %d)", p.paint(bold, "parsed:"), p.paint(red, "error"), n)
	}
	col := green
	v := r.Verdict
	switch r.Verdict {
	case "drop":
		col = red
	case "redirect":
		col = yellow
		dir := "egress"
		if r.Ingress {
			dir = "ingress"
		}
		v = fmt.Sprintf("redirect to %s (%s)", r.Target, dir)
	}
	extra := ""
	if r.SizeAfter != r.Size {
		extra += fmt.Sprintf(", size now %d", r.SizeAfter)
	}
	if r.ApplyBytes != 0 {
		extra += fmt.Sprintf(", apply_bytes %d", r.ApplyBytes)
	}
	if r.CorkBytes != 0 {
		extra += fmt.Sprintf(", cork_bytes %d", r.CorkBytes)
	}
	return fmt.Sprintf("%s %s (returned %s%s)", p.paint(bold, "verdict:"), p.paint(col, v), signedVal(r.Return), extra)
}

// writeRecords prints what an events step read (each record in hex) and
// the per-CPU values of a per-CPU lookup.
func writeRecords(w io.Writer, o *scenario.Observation, p painter) {
	for i, e := range o.Events {
		fmt.Fprintf(w, "    %s %d: hex:%x (%d bytes)\n", p.paint(yellow, "record"), i, []byte(e), len(e))
	}
	for i, v := range o.Values {
		fmt.Fprintf(w, "    %s %d: hex:%x\n", p.paint(yellow, "cpu"), i, []byte(v))
	}
	writeVerifierLog(w, o, "    ", p)
}

// writeVerifierLog prints the whole log of a verifier that refused a
// program.
func writeVerifierLog(w io.Writer, o *scenario.Observation, indent string, p painter) {
	if len(o.Log) == 0 {
		return
	}
	fmt.Fprintf(w, "%s%s (%d lines):\n", indent, p.paint(yellow, "verifier log"), len(o.Log))
	for _, l := range o.Log {
		fmt.Fprintf(w, "%s  %s\n", indent, l)
	}
}
