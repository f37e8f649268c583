// Package runtime is the kernel side of skmsg: sockmap and sockhash, the
// per-socket state (psock) with its program slots, the generic sk_msg
// scatterlist with apply/cork/pull/push/pop, the program contexts, the
// helpers of each program type, and the TCP hooks of the send and receive
// paths, over a user-space network.
//
// # Using it
//
//	rt := runtime.New(runtime.Options{})            // virtual network, clock, seed
//	coll, err := rt.Load(obj)                        // obj from loader.Open
//	sm, _ := coll.SockMap("sock_map")
//	err = rt.Attach(coll.Programs["msg_redir"], sm, ebpf.AttachSkMsgVerdict)
//	cli, srv, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
//	err = sm.Update(uint32(0), srv, runtime.UpdateAny) // or a descriptor number
//	n, err := cli.Write([]byte("hello"))             // runs the sk_msg verdict
//
// Errors a kernel would return are syscall.Errno values carrying the Linux
// number on every GOOS (possibly wrapped: errors.Is(err, syscall.EBUSY) on
// Linux). Sockets are numbered like file
// descriptors, so a map update may also take a number as user space
// passes it (EBADF when it names no open socket, EINVAL above INT_MAX).
//
// # Files
//
// Named after the kernel code they follow:
//
//   - skmsg.go: the sk_msg scatterlist (struct sk_msg, net/core/skmsg.c): 17
//     elements of at most 32 KiB, pull/push/pop with the kernel's layouts
//     and errors.
//   - tcp_bpf.go: tcp_bpf_sendmsg / tcp_bpf_send_verdict: the msg program
//     runs inside Write, verdicts pass, redirect (egress or ingress) or
//     drop, with apply_bytes, cork_bytes and their quirks.
//   - strparser.go: the stream parser (net/strparser) as psocks use it.
//   - verdict.go: sk_skb verdicts applied (sk_psock_verdict_apply).
//   - fin_redirect.go: what a FIN does when a verdict-only receive
//     program redirects it (an empty skb through the verdict).
//   - psock.go, psock_rx.go: the per-socket state: program slots copied at
//     insertion, the send-path verdict cache, links to map entries,
//     teardown; the receive side (receive modes, data_ready, reads while a
//     verdict owns the socket).
//   - psock_backlog.go: when a delivery held for room is retried (the
//     psock backlog's -EAGAIN): on the events that make room (a read of the
//     target, sk_write_space, a buffer size change, the target going away),
//     never on a clock.
//   - sock_map.go, sock_map_prog.go, attach.go: sockmap and sockhash
//     (net/core/sock_map.c), their update/delete/lookup rules and errnos,
//     the four program slots of a map (attach, detach, links), the map
//     helpers for programs.
//   - sockops.go, tcp_state.go: sock_ops programs and the socket states
//     their STATE_CB sees.
//   - run_msg.go, ctx_msg.go: running sk_msg programs; struct sk_msg_md and
//     struct bpf_sock, RunEvent / Observer.
//   - ctx_skb.go, ctx_sockops.go: struct __sk_buff and struct bpf_sock_ops
//     as their programs see them.
//   - helpers_skb.go, helpers_sockops.go, helpers_sock.go,
//     helpers_current.go: the helpers of each program type
//     (net/core/filter.c's func_protos), socket casts, current task and
//     cgroup; helpers_unsupported.go lists those skmsg does not run, with
//     why; pkt_data.go the helpers that change packet data.
//   - kernel_objects.go, kernel_build.go: kernel structs helpers hand to
//     programs (tcp_sock, task_struct, ...), and the behaviours that differ
//     between kernel builds.
//   - listener.go: listening sockets, in socket maps or not: sendmsg,
//     recv, FIONREAD and shutdown as the kernel answers them.
//   - ingress_ledger.go: which bytes of an ingress queue were the
//     socket's own received data (copied_seq accounting).
//   - cgroup_linux.go, cgroup_other.go: this process's cgroup ids.
//   - socket.go, runtime.go, load.go, program.go: Socket (a net.Conn), Net,
//     Runtime, Load and the program type table, Program.
//   - printk.go: Options.Printk, the bpf_printk lines of every run with
//     the program and socket that printed them.
//   - errno.go: helper return values for errnos (numbers: internal/errno).
//
// The receive side (sk_skb parser and verdict) and sock_ops live in their
// own files and hook in through: psock.rx (receive state) and the
// psock methods rxStartFor / rxStopFor / rxStop called at insertion,
// removal and teardown; Socket.RecvMsg, which hands reads to the receive
// side while a verdict owns the socket; the progTypes table (load.go) for
// each program type's helpers and context rules; Runtime's network hooks
// (onEstablished, onListen). The ingress queue (psock ingress_msg) is the
// connection's own queue in netstack (RawConn.InjectOwned, or
// RawConn.InjectRelease for a whole fragment handed over and returned to the
// pool once read), shared by sk_msg ingress redirects and sk_skb verdicts,
// so reads see one FIFO.
package runtime
