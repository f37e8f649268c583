// Package verifier is skmsg's static BPF verifier: it applies the Linux
// verifier's rules (the privileged ones: CAP_BPF, CAP_NET_ADMIN and
// CAP_PERFMON, the way sockmap programs are always loaded) to a program
// before the interpreter runs it, and refuses what the kernel refuses, with
// the kernel's errno and a log worded like the kernel's.
//
// The kernel is the specification (kernel/bpf/verifier.c of Linux 6.18):
// the analysis is a path-sensitive abstract interpretation of the program,
// like the kernel's do_check(). Each register has a type (scalar, context,
// stack, packet, packet end, map value, map pointer, socket, ringbuf
// memory, ...), scalars carry a tnum (known bits) and signed and unsigned
// 32- and 64-bit bounds refined by ALU operations and branches, stack
// slots remember spilled registers, and pointers that may be NULL carry an
// id so that one NULL check marks every copy. Acquired references
// (sockets from bpf_sk_lookup_*, ringbuf reservations) must be released on
// every path. States seen at a prune point are remembered and a new state
// that is included in an old one is not explored again, which keeps real
// programs fast; more than 1,000,000 processed instructions is refused as
// the kernel refuses it ("BPF program is too large").
//
// The interpreter's run-time checks stay: this package is the kernel's
// gate, the checked memory of package vm is skmsg's safety net.
package verifier
