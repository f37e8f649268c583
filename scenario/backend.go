package scenario

import (
	"errors"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
)

// A Backend runs scenarios: skmsg's user-space runtime, or the real kernel.
// Each run gets its own Session, so nothing leaks from one scenario into the
// next.
type Backend interface {
	// Name says which backend this is ("kernel", "skmsg").
	Name() string
	// NewSession makes a fresh environment for one scenario run.
	NewSession(env *Env) (Session, error)
}

// Env is what a session needs to know before anything is created.
type Env struct {
	Scenario *Scenario
	// Addresses are all addresses the scenario will bind or connect from.
	Addresses []netip.Addr
	// Seed is the effective seed (Options.Seed or the file's seed).
	Seed uint64
	// IdleTimeout bounds a wait for idle on backends that must poll.
	IdleTimeout time.Duration
	// CPUs is the scenario's cpus: (0 when not given): how many CPUs
	// skmsg emulates; the kernel has its own.
	CPUs int
}

// SocketID names a socket of a session; the backend chooses the numbers.
type SocketID int

// Errors: every operation that fails the way the kernel would answers with
// an error wrapping a syscall.Errno holding the Linux errno number (EACCES,
// EBUSY, ...). Any other error is a failure of the backend itself and fails
// the step whatever it expected.
type Session interface {
	// CreateMap makes a create_maps map.
	CreateMap(def *MapDef) error
	// LoadObject makes the object's maps: those whose MapID is already
	// made (create_maps, or shared with an object loaded earlier) are
	// reused, the others are created from the object's specs (global data
	// initialised from the object).
	LoadObject(obj *Object) error
	// LoadProgram loads (verifies, prepares) one program of a loaded
	// object; its Spec has the program type set. A program that the
	// kernel's verifier would refuse fails here.
	LoadProgram(p *Program) error
	// Attach attaches a loaded program to a sockmap/sockhash (sk_msg,
	// stream_parser, stream_verdict, skb_verdict) or, for sockops, to every
	// socket of the session (target is NoMap).
	Attach(prog ProgID, target MapID, kind ebpf.AttachType) error
	// Detach undoes Attach.
	Detach(prog ProgID, target MapID, kind ebpf.AttachType) error

	// Listen makes a listening TCP socket; port 0 chooses one. It returns
	// the socket and its bound address.
	Listen(addr netip.AddrPort) (SocketID, netip.AddrPort, error)
	// Connect makes an established TCP connection from client (port 0:
	// any; an invalid address: the backend's choice of local address) to a
	// listener and accepts it: client and accepted server socket.
	Connect(listener SocketID, client netip.AddrPort) (cli, srv SocketID, err error)

	// MapUpdate stores value under key. A socket value is given as a
	// SocketID (val.Socket); a raw value as bytes (for sockmaps a
	// descriptor number as user space would pass it).
	MapUpdate(m MapID, key []byte, val MapValue, flags ebpf.MapUpdateFlags) error
	// MapLookup returns the value under key (for sockmaps: the 8-byte
	// socket cookie).
	MapLookup(m MapID, key []byte) ([]byte, error)
	// MapDelete removes key.
	MapDelete(m MapID, key []byte) error
	// MapEntries lists the map's contents (keys in the order iteration
	// gives them; sockmaps give cookies as values).
	MapEntries(m MapID) ([]MapEntry, error)
	// MapLookupPerCPU returns the value of every CPU under key in a
	// per-CPU map (MapUpdate of such a map writes the one value it is given
	// on every CPU; MapEntries gives the values as user space reads them,
	// one per CPU each padded to 8 bytes).
	MapLookupPerCPU(m MapID, key []byte) ([][]byte, error)
	// Events returns the records a ring buffer or perf event array map
	// received since the last call, in the order user space reads them.
	Events(m MapID) ([]Event, error)
	// Cookie is the socket cookie of a socket (what a sockmap lookup
	// returns for it).
	Cookie(s SocketID) (uint64, error)

	// Send is one sendmsg with the buffers as its iov and the MSG_* flags
	// (Linux values; MSG_NOSIGNAL is always added). It returns the bytes
	// accepted. A blocking send that cannot complete returns the count
	// accepted so far, or EAGAIN if none, as a sendmsg with a send
	// timeout does: the kernel backend sets a 2-second SO_SNDTIMEO, skmsg
	// ends the send once the pipeline is idle with it still blocked.
	Send(s SocketID, iov [][]byte, flags int) (int, error)
	// Stream writes a large payload on one socket while reading at
	// another; see StreamRequest.
	Stream(req *StreamRequest) (StreamResult, error)
	// SetDeadline bounds every wait of the operations that follow (a
	// blocking send, a stream, the wait for idle); the zero time removes
	// the bound. An operation the deadline stops returns an error that
	// wraps ErrDeadline and says what it was waiting for.
	SetDeadline(t time.Time)
	// Recv reads, without blocking, what the socket has readable now, at
	// most max bytes (max 0: no cap). eof is true when the read saw the end
	// of the stream (a zero-length read) after the data. peek reads
	// without consuming. A read that finds nothing and no end of stream
	// returns no data, no error.
	Recv(s SocketID, max int, peek bool) (data []byte, eof bool, err error)
	// Fionread is ioctl(FIONREAD).
	Fionread(s SocketID) (int, error)
	// Shutdown is shutdown(2) with SHUT_RD=0, SHUT_WR=1, SHUT_RDWR=2.
	Shutdown(s SocketID, how int) error
	// SetSockopt sets an integer option, named as in docs/scenarios.md
	// (SO_RCVBUF, TCP_NODELAY, ...).
	SetSockopt(s SocketID, name string, value int) error
	// CloseSocket closes a socket.
	CloseSocket(s SocketID) error

	// WaitIdle returns once nothing is in flight: no segment on the wire,
	// no queued message, no parser holding a partial frame, no redirect
	// pending. A backend that cannot know polls until a deadline.
	WaitIdle() error
	// Logs returns what programs printed (bpf_printk) since the last call;
	// nil where unavailable.
	Logs() []string

	// Close releases everything of the session.
	Close() error
}

// MapValue is the value of a map update.
type MapValue struct {
	Bytes    []byte
	Socket   SocketID
	IsSocket bool
}

// MapEntry is one key and value of a map.
type MapEntry struct {
	Key   []byte
	Value []byte
}

// Noter is implemented by sessions that have something to say about what
// they observed (the kernel: bpf_printk lines of other processes left
// out, another reader on trace_pipe). The runner adds the notes to the
// step being recorded, after its Logs.
type Noter interface {
	Notes() []string
}

// ApproximateIdle is implemented by sessions whose WaitIdle can only
// guess (the kernel: it watches queues for a quiet period). On those the
// runner keeps reading a recv step whose expected bytes have not all
// arrived until they have or the idle timeout passes.
type ApproximateIdle interface {
	ApproximateIdle()
}

// ErrDeadline is wrapped by the error of an operation that a session's
// deadline stopped.
var ErrDeadline = errors.New("deadline passed")

// StreamRequest is a stream step for a backend: write Size bytes on From,
// in sendmsg calls of at most Chunk bytes, while reading everything that
// arrives at To. The writer stops at the first failing sendmsg (or a
// blocking one that could not complete: it returns short, as with a send
// timeout). The step ends when Size bytes arrived, or when the writer is
// done and nothing more arrives (skmsg: the pipeline is idle; kernel: 2 s
// without a byte), or at the session's deadline.
type StreamRequest struct {
	From, To SocketID
	// FromName and ToName are the sockets' names in the file, for
	// messages ("" in a request made by hand: the IDs are shown).
	FromName, ToName string
	Size             int64
	Chunk            int
	// Fill writes the next bytes of the payload (called by the writer,
	// in order).
	Fill func(b []byte)
	// Got checks the next bytes that arrived (called by the reader, in
	// order); false stops the step (they differ from the payload).
	Got func(b []byte) bool
	// Progress, when set, is called now and then with the bytes written
	// and received so far.
	Progress func(sent, received int64)
}

// StreamResult is what a stream moved.
type StreamResult struct {
	Sent     int64 // bytes sendmsg accepted
	Received int64 // bytes read at To
	// WriteErr is the error of the sendmsg that stopped the writer (an
	// errno), nil if every byte was accepted.
	WriteErr error
}
