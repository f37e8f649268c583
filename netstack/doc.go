// Package netstack is a user-space TCP/IP network built on gVisor's
// pkg/tcpip. It gives the runtime real TCP sockets (handshakes, windows,
// retransmission, partial writes, FIN and RST) without touching the host
// kernel, and it knows nothing of BPF.
//
// # Topology
//
// A [Network] is a set of hosts joined by one link that the package owns.
// Every [Host] is its own gVisor stack with a single NIC on that link, so a
// byte sent from one host to another really crosses the link as an IP packet:
// it can be captured ([Network.Capture]), filtered with a classic BPF program,
// dropped, delayed, reordered or duplicated ([Network.SetFaults]). Hosts are
// created on demand from their addresses ("10.0.0.1", "fd00::1",
// "127.0.1.1"); loopback-range addresses are ordinary host addresses here, so
// 127.0.1.1 and 127.0.2.1 are two hosts and traffic between them crosses the
// link. A host that talks to itself also goes through the link.
//
// While faults are configured the link also stands in for a timer gVisor's
// TCP sender lacks: a flow that lost a frame and then stays silent, with
// data queued, for longer than its sender's own timers ever wait gets a
// window probe on its sender's behalf (as Linux's probe timer would send),
// so a lost window update cannot stall it; [LinkStats].Probes counts them.
//
// Runs repeat: ephemeral ports are handed out in order per host (from
// 32768), the stacks' random sources are seeded from [Options.Seed], and
// every stack reads one [VirtualClock] ([Options.Clock]), whose time counts
// the frames on the link and moves to a timer's deadline when that timer
// fires, instead of following the wall. Initial sequence numbers, TCP
// timestamps, round-trip samples and capture timestamps are therefore the
// same in every run that puts the same frames on the link in the same
// order: a run whose traffic does not depend on the scheduler (one side
// sends while the other waits, as scenario steps do) gives the same pcap
// byte for byte. Timers keep their real pacing: one fires once the link has
// been silent, while something waited for the network, for its duration.
// What still varies is the order of frames that two goroutines put on the
// link at once (a write of several segments while the receiver
// acknowledges), and runs with link faults, whose delays and reorder
// timeouts follow the wall clock.
//
// # Sockets
//
// [Conn] is a connected TCP socket and implements net.Conn; [Listener]
// implements net.Listener. Errors are syscall.Errno values with Linux
// numbers on every GOOS, wrapped in *[OpError] (errors.Is(err,
// syscall.ECONNRESET) works on Linux); end of stream is
// io.EOF. Flags for [Conn.SendMsg], [Conn.RecvMsg] and [RawConn.SendTCP] are
// the Linux MSG_* values (MSG_DONTWAIT, MSG_PEEK, MSG_MORE: this package's
// constants, equal to the syscall package's on Linux).
//
// # Hooks for the runtime
//
// The runtime wraps sockets the way the kernel's tcp_bpf swaps a socket's
// proto ops. That side of a socket is its [RawConn] ([Conn.Raw]), so the
// Conn an application holds stays a net.Conn with sendmsg/recvmsg. The
// hooks are:
//
//   - Send path: [RawConn.SetSendHook]. Once set, every application write
//     ([Conn.Write], [Conn.SendMsg]) calls the hook instead of TCP, on the
//     writer's goroutine (no goroutine hop). The hook decides: pass bytes to
//     TCP with [RawConn.SendTCP] (raw tcp_sendmsg: blocking unless MSG_DONTWAIT,
//     partial writes and EAGAIN like the kernel), send them on another socket
//     with that socket's SendTCP (egress redirect), put them into another
//     socket's receive side with [RawConn.Inject] (ingress redirect), or drop
//     them and return an error (EACCES). Application writes are serialized
//     per Conn (like lock_sock), so a hook never runs twice at once for the
//     same Conn.
//
//   - Receive path: [RawConn.SetRecvHook]. Once set, TCP data no longer goes to
//     the application; instead the hook is called (data_ready) whenever bytes
//     or a FIN/RST arrive, on a goroutine owned by that Conn (one per Conn,
//     calls serialized). The hook pulls bytes with [RawConn.RecvTCP] or looks at
//     them with [RawConn.PeekTCP] and [RawConn.TCPQueued]; bytes it leaves stay
//     queued in TCP (and hold the receive window closed, as in the kernel).
//     A hook that wants to be called again without new arrivals calls
//     [RawConn.KickRecv] (like re-running the strparser after a budget).
//
//   - Ingress queue: every Conn has a message queue that application reads
//     consume before any TCP data (the kernel's psock ingress_msg).
//     [RawConn.Inject] appends bytes to it and wakes blocked readers;
//     [RawConn.InjectRelease] queues a caller's buffer without a copy and
//     releases it once read (or the Conn closes), so pooled pages go back;
//     [RawConn.CloseIngress] makes reads return EOF (or an error) whenever the
//     queue is empty; injections still queue after it, as after SHUT_RD.
//     Without a recv hook, reads take the ingress queue first, then TCP data; with a recv hook, reads see only the ingress
//     queue, and EOF once TCP's receive side has closed with nothing left
//     queued (or after CloseIngress). [RawConn.Readable] (FIONREAD) counts what
//     a read would see. [RawConn.SetConsumeHook] reports application reads that
//     made room, and [RawConn.SetWriteSpaceHook] TCP freeing send buffer
//     room (to resume deliveries waiting for it). Ingress
//     redirects are only visible to the application; they do not pass through TCP and so never appear on the link.
//
//   - Lifecycle: [Hooks] given to [Network.SetHooks]. OnEstablished runs on
//     the active side before Dial returns and on the passive side when the
//     handshake completes (whether or not the application ever calls
//     Accept; Accept returns the Conn only afterwards). OnListen runs when a
//     Listener starts listening. OnClose runs when the application closes a
//     Conn, before TCP closes (like sock_map_close before tcp_close).
//     OnTCPDone runs when a Conn the application still holds reaches CLOSE
//     or TIME_WAIT by itself (peer reset, or both sides shut down): the
//     kernel unhashes such a socket, which drops it from sockmaps.
//     [RawConn.SetOwner] keeps the runtime's per-socket state on the Conn.
//
//   - Idle: [Network.WaitIdle] returns when no TCP data, SYN or FIN is
//     unacknowledged (except data stuck behind a zero window or a receiver
//     that refuses data for lack of buffer), no frame is
//     held by a fault, no handshake waits in a listener's queue and no hook
//     call is pending. The runtime marks its own asynchronous work with
//     [Network.Busy] / [Network.Done], or registers a check with
//     [Network.AddIdleCheck], so WaitIdle also waits for it. When the
//     context ends first, the error says what was still busy.
//
// # Performance notes
//
// Frames are delivered synchronously from the sending goroutine into the
// receiving stack (no goroutine per frame, no channel), and the link MTU
// defaults to 65535 like the kernel's loopback. gVisor processes received
// segments on a few goroutines per stack, so throughput depends on the Go
// scheduler as much as on CPU. A frame made of many small pieces (gVisor
// chains the views of small writes) is copied into one piece on delivery,
// so reading it in small steps stays linear.
//
// # Files
//
//   - network.go, socket.go: Network, Host, Dial, Listen, Pipe, Listener
//   - conn.go: Conn: addresses, deadlines, shutdown, close
//   - send.go, recv.go: the send and receive paths: Write/SendMsg and
//     Read/RecvMsg, raw TCP sends and reads
//   - raw.go, hooks.go, ingress.go: RawConn, the send/receive/consume/
//     write-space hooks and their worker, the ingress queue
//   - sockopt.go, state.go, errors.go: socket options and MSG_*/SHUT_*
//     numbered as on Linux, TCP states, OpError and the gVisor-to-Linux
//     errno mapping
//   - link.go, capture.go, faults.go: the virtual link, pcap capture with
//     a classic BPF filter, loss/delay/reordering
//   - clock.go: VirtualClock, the time of every stack, counted in frames
//   - idle.go, sndqueue_unsafe.go, rcvbuf_full_unsafe.go: WaitIdle,
//     Busy/Done and what counts as in flight, including segments queued
//     inside gVisor and data a receiver short of buffer refuses
//   - tcp_counters.go: a connection's sequence-space counters as Linux
//     keeps them in struct tcp_sock, from the segments the link carried
//   - handshake_order.go, persist.go: the kernel's order for the two ends
//     of a handshake; the persist probe gVisor's sender lacks
package netstack
