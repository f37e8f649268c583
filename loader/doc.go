// Package loader turns a BPF ELF object into programs and map specs that
// skmsg can run, without a kernel.
//
// It accepts what users ship: objects built with libbpf conventions (BTF
// .maps, SEC names from libbpf's table), objects built against vmlinux.h
// with CO-RE relocations, objects from old iproute2-style Makefiles (struct
// bpf_elf_map in SEC("maps"), pre-1.0 section names), and the
// *ebpf.CollectionSpec that bpf2go-generated code returns. Parsing is done
// by github.com/cilium/ebpf; this package decides program types, resolves
// CO-RE against the context types skmsg emulates, checks every reference and
// reports what skmsg cannot do as an error wrapping ErrNotSupported.
//
// # Instructions
//
// Program.Instructions is the flattened stream cilium/ebpf builds: the entry
// function first, then every subprogram it reaches. Each instruction keeps
// its BTF line info (asm.Instruction.Source() is a *btf.Line with file, line
// and column) and its symbolic references:
//
//   - bpf-to-bpf call: Src == asm.PseudoCall, Constant == -1,
//     Reference() == callee name; the callee's first instruction carries
//     Symbol() == callee name in the same stream.
//   - map reference (r1 = map[sock_map]): LD_IMM64 with
//     Src == asm.PseudoMapFD, Reference() == map name (a key of Object.Maps).
//   - global data (.data, .bss, .rodata, .data.*, .rodata.*): LD_IMM64 with
//     Src == asm.PseudoMapValue, Reference() == section name (a key of
//     Object.Maps, e.g. ".rodata"), and the byte offset into the section in
//     the upper 32 bits of Constant (uint64(Constant) >> 32), as the kernel
//     expects it in the second half of the pair. The low 32 bits are 0.
//   - function pointer (bpf_loop callbacks): LD_IMM64 with
//     Src == asm.PseudoFunc, Constant == -1, Reference() == function name.
//
// # Maps and global data
//
// Object.Maps holds every map the object declares, from BTF ".maps"
// definitions and from the legacy SEC("maps") section (libbpf's 20-byte
// struct bpf_map_def and iproute2's 28- and 36-byte struct bpf_elf_map,
// whose id, pinning, inner_id and inner_idx are kept in MapSpec.Legacy and
// turned into InnerMap and Contents for maps of maps as iproute2's loader
// does, Cilium 1.x's NO_PREPOPULATE included; ResolveLegacyMaps does the
// same to a CollectionSpec that is to be loaded into a kernel). Global data
// sections are maps too, named after the section, with GlobalData set, one
// entry whose value is the section (MapSpec.Data), and ReadOnly set for
// .rodata*. A perf event array declared without max_entries has OnePerCPU
// set. Object.Variables names the variables inside those sections;
// SetConstant sets a `const volatile` one and SetVariable any one, in the
// host's byte order, before the runtime loads the object. The runtime must
// copy MapSpec.Data when it creates the region, so that one Object can be
// loaded several times.
//
// # Program types
//
// A program's type and expected attach type come from its section name,
// matched as cilium/ebpf does against libbpf's table: "sk_msg",
// "sk_skb/stream_parser", "sk_skb/stream_verdict", "sk_skb/verdict",
// "sk_skb", "sockops", "socket", "tc", "xdp", "kprobe/...", "tracepoint/...",
// "cgroup_skb/...", and the rest of libbpf's list. Like libbpf before 1.0
// (and cilium/ebpf today), a section whose name starts with a type name
// without a slash is accepted: "sk_msg1" is SK_MSG, "sk_skb2" is SK_SKB with
// no attach type (the kernel lets an SK_SKB program be attached as parser or
// verdict), "sockops_x" is SOCK_OPS. Program.LegacySection reports such a
// prefix match. The prefix rule is broad ("tcp_verdict" would be a tc
// classifier), which is why the flag exists. WithProgramType overrides the
// type of a program or of a whole section (ParseProgramType reads
// "sk_skb/stream_verdict" and the like); a program whose type is still
// unknown makes Open fail with an error wrapping ErrNotSupported that names
// the section and program. Failing early was chosen over keeping an
// untyped program: the runtime could not pick its context, helpers or
// attach points anyway, and the message tells what to do.
//
// # CO-RE
//
// CO-RE relocations are resolved against BTF that skmsg ships: the UAPI
// context structs (__sk_buff, sk_msg_md, bpf_sock_ops, bpf_sock, ...)
// in the 6.18 kernel layout (testdata/loader/vmlinux.h, trimmed from the
// kernel BTF, since installed UAPI headers can be older), compiled from
// testdata/loader/ctx_btf.c and embedded as ctx_btf.o (copy it
// with `go generate ./loader` after `make testdata`; a test checks the copy
// is current). WithCORETargets adds more BTF (for example a kernel's
// vmlinux BTF) for programs that relocate against kernel types.
//
// A relocation that cannot be resolved (libbpf "poisons" the instruction)
// is handled as the kernel verifier handles it: if the code as relocated
// can reach the instruction, Open fails, naming the program, the
// instruction, its source line and the C field; if it cannot (an access
// guarded by bpf_core_field_exists() or bpf_core_type_exists() that folded
// to 0), the instruction is replaced by a no-op of the same width and
// listed in Program.DeadCORE. Reachability follows constants written by
// moves and 64-bit loads only, so it may call dead code reachable (an
// error) but never the reverse. Failing at Open was chosen over leaving the
// poisoned call (helper 0xbad2310) to fault at run time: the interpreter
// rejects unknown helpers when it prepares a program, so the program would
// be unusable either way, with a worse message. Applied relocations are
// removed from the instructions, so Program.Spec can be loaded into a
// kernel too.
//
// # Files
//
//   - loader.go: Open, FromSpec, Object and the options
//   - program.go, progtype.go: ProgramSpec, program and attach types from
//     section names
//   - maps.go, legacy_maps.go, variables.go: MapSpec, legacy SEC("maps")
//     definitions, global variables
//   - core.go: CO-RE relocations against the context types and kernel BTF
//   - deadcode.go: code the kernel's verifier would prune as dead
package loader

//go:generate cp ../testdata/loader/ctx_btf.o ctx_btf.o
