// Package maps implements BPF maps with the kernel's semantics (update
// flags, errnos, iteration order, per-CPU values, LRU eviction, LPM
// matching, map-in-map, tail-call program arrays, ring buffers, queues)
// behind a byte-level interface that helpers use and a cilium/ebpf-shaped
// typed API for Go callers, plus the helpers every program type shares
// (map access, time, randomness, printk, tail calls, ring buffer output).
//
// Errors are syscall.Errno values wrapped with the map name and operation,
// so errors.Is(err, syscall.ENOENT) works as it does with cilium/ebpf.
package maps
