// Package bpf is skmsg's counterpart of the kernel's kernel/bpf/: BPF maps
// with the kernel's semantics, and the generic helpers every program type
// shares (map access, the clock, the random source, printk, strtol and
// string helpers, callbacks). The socket side of the kernel (sockmap,
// sockhash, psock, tcp_bpf, strparser) lives in the runtime package.
//
// # Maps
//
// New creates a map from a Spec (what BPF_MAP_CREATE takes; FromMapSpec
// converts cilium/ebpf's MapSpec) with the kernel's creation checks, after
// filling in what libbpf and cilium/ebpf fill in (a perf event array's
// key and value size 4, and one entry per CPU without max_entries).
// Supported: array, per-CPU array, hash, per-CPU hash, LRU hash, LRU
// per-CPU hash, LPM trie, array and hash of maps, program array, ring
// buffer, perf event array, socket storage, queue and stack.
//
// A Map has two faces. The byte-level Raw interface (LookupBytes,
// UpdateBytes, DeleteBytes, NextKeyBytes, Freeze) behaves like the bpf(2)
// syscall commands: the kernel's update flags (BPF_ANY, BPF_NOEXIST,
// BPF_EXIST, BPF_F_LOCK), its errnos (ENOENT, EEXIST, E2BIG, EINVAL,
// EPERM on frozen or read-only maps, ENOTSUPP where the kernel leaks it)
// and its get_next_key order. The typed API (Lookup, Put, Update, Delete,
// NextKey, Iterate, LookupAndDelete) follows cilium/ebpf's Map and
// encodes keys and values in host byte order. Errors are *MapError values
// that unwrap to a syscall.Errno.
//
// Maps are safe for concurrent use. Values handed out are live: a
// program's writes through a looked-up value are writes to the map, and a
// replaced or deleted hash element's memory is never reused, as the
// kernel's RCU guarantees a running program.
//
// Maps implemented elsewhere (the runtime's sockmap and sockhash) embed
// an API made by NewAPI over their Raw implementation, and implement
// ProgramMap to serve the map helpers themselves.
//
// # Handles and helpers
//
// Programs name maps by the 64-bit values of their LD_IMM64 pseudo
// instructions. A Registry gives each map a handle: an address in a vm
// region that no machine maps (HandleRegionBase and up), so dereferencing
// one faults. ValueRegion exposes an array's values for direct value
// access (global data; .rodata read-only).
//
// BaseHelpers returns the generic helpers (map access, queue and stack,
// per-CPU lookups, clocks, prandom, CPU and NUMA ids, trace_printk, tail
// calls, ring buffer, perf event output, socket storage, pid/uid,
// probe_read_kernel, strncmp, strtol/strtoul, spin locks, bpf_loop and
// bpf_for_each_map_elem, which call back into the program through
// vm.Machine.CallFunc) with the
// kernel's helper ids and return conventions, over an Env the runtime
// provides (registry, clock, random source, printk sink, CPU of a run,
// socket resolver).
//
// # Files
//
//   - map.go, api.go, spec.go, errors.go, cilium.go: the Raw and typed map
//     interfaces, Spec and its creation checks, update flags and MapError,
//     conversion from cilium/ebpf specs
//   - array.go, hash.go, lpm.go, queue.go, ringbuf.go, fdarray.go,
//     skstorage.go: the map types (array and per-CPU array; hash, per-CPU
//     and LRU hash, hash of maps; LPM trie; queue and stack; ring buffer
//     and perf event array; program array and array of maps; socket
//     storage)
//   - registry.go: map handles as programs see them
//   - helpers.go, callbacks.go, spin.go: the generic helpers
//     (kernel/bpf/helpers.c), bpf_loop and for_each_map_elem, spin locks
//   - clock.go, printk.go, strtol.go: the clock, bpf_trace_printk
//     formatting, strtol/strtoul and string helpers
package bpf
