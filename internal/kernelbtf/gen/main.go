// Command gen writes the minimised BTF of the kernel types skmsg backs
// with memory (struct sock and the socket structs around it, task_struct)
// from a kernel's BTF, by default the running kernel's
// /sys/kernel/btf/vmlinux.
//
// Every type a root holds by value is kept whole, so sizes and offsets are
// the kernel's; a pointer keeps its target only when the target is itself
// a root (or a small struct a root points to, listed in pointees), and
// otherwise points to a forward declaration of the same name. CO-RE field
// relocations do not look through pointers, so programs that read a
// pointer member still relocate; only reading through it needs the
// target's layout.
//
//	go run ./internal/kernelbtf/gen -o internal/kernelbtf/kernel.btf
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/skmsg/skmsg/internal/kernelbtf/gen/minimize"
)

func main() {
	in := flag.String("vmlinux", "/sys/kernel/btf/vmlinux", "kernel BTF to read")
	out := flag.String("o", "kernel.btf", "file to write")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	defer f.Close()
	raw, err := minimize.FromReader(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, raw, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
