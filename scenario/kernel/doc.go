// Package kernel runs scenarios on the running Linux kernel: objects loaded
// with cilium/ebpf, programs attached to real sockmaps, real TCP sockets
// over loopback in a network namespace of their own (and a cgroup of their
// own for sockops). It is the reference skmsg is compared against. It
// needs root (or CAP_BPF and CAP_NET_ADMIN); Available says why it cannot
// run where it cannot, and off Linux it never can.
//
// # Files
//
//   - backend.go: the Backend and its sessions (Linux); backend_other.go
//     the stub elsewhere.
//   - netns.go, cgroup.go: the namespace thread and the cgroup of a session.
//   - events.go: ring buffer and perf event readers for events steps.
//   - psock_backlog.go: what WaitIdle sees of redirects still queued for
//     the sockmap's backlog worker (socket reference counts).
//   - stream.go: stream steps (scenario.RunStream) on real sockets, ended
//     by a quiet period.
//   - tracepipe.go: bpf_printk lines of this session's programs only.
package kernel
