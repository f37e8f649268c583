// Package scenario reads scenario files (YAML descriptions of sockmap
// pipelines: objects, attachments, sockets, map contents and a list of steps
// with expectations), runs them step by step on a Backend — skmsg's own
// runtime or the real kernel — and reports, per step, what was expected and
// what was seen. Compare runs one file on two backends and lists where their
// observations differ.
//
// A test can run a scenario file directly:
//
//	res, err := scenario.RunFile("testdata/scenarios/pass.yaml", backend, scenario.Options{})
//	require.NoError(t, err)
//	require.True(t, res.Passed(), res.Summary())
//
// # Files
//
//   - scenario.go, parse.go, values.go: the file's types, the parser
//     (every field and step), the value and payload syntax
//   - validate.go: names and sizes checked against the objects
//   - backend.go: the Backend and Session interfaces
//   - recv.go, stream_ends.go, mapwalk.go: what both backends share of a
//     session: draining a socket with MSG_DONTWAIT, a stream step's writer
//     and checking reader over the backend's blocking send and read, and
//     listing a map with get_next_key
//   - runner.go, events.go, stream.go: running a file step by step;
//     events, per-CPU and other observations beyond sockets; stream steps
//   - bounds.go: limits on what a file may ask for, so no input makes the
//     runner allocate without limit
//   - compare.go, result.go, format.go, verifierlog.go: comparing two
//     backends, results and reports (text, JSON, JUnit), values in the
//     expected side's syntax, verifier logs
//   - errno.go: errno names (internal/errno)
package scenario

import (
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
)

// Pos is a place in a scenario file.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Scenario is a parsed and validated scenario file.
type Scenario struct {
	File string // path as given
	Name string
	// Seed is the top-level seed (0 unless given); Options.Seed overrides it.
	Seed    uint64
	SeedPos Pos
	// CPUs is how many CPUs skmsg emulates (top-level cpus:); 0 means
	// the default, 1. The kernel has the CPUs it has.
	CPUs int

	Objects     []*Object
	CreateMaps  []*MapDecl
	Programs    []*Program
	Listeners   []*Listener
	Connections []*Connection
	Maps        []*Step // update steps applied after the connections exist
	Steps       []*Step

	// The load plan, filled in by validation.
	MapDefs []*MapDef
	// Addresses holds every IP address the scenario names (connections,
	// listeners, connect steps, default addresses), so a backend can make
	// them local before anything is bound.
	Addresses []netip.Addr

	validated bool
}

// Object is one BPF object file of the scenario.
type Object struct {
	Pos  Pos
	Name string // "" for the single `object:` form
	Path string // resolved against the scenario file's directory
	Spec *ebpf.CollectionSpec
	// Maps binds each map name of Spec to the map instance it uses.
	Maps map[string]MapID
}

// MapDecl is a create_maps entry.
type MapDecl struct {
	Pos        Pos
	Name       string
	Type       ebpf.MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
}

// attachNames are the attach types a scenario names, by their scenario
// spelling; ebpf.AttachCGroupSockOps ("sockops") attaches to every socket
// of the session rather than to a map.
var attachNames = map[string]ebpf.AttachType{
	"sk_msg":         ebpf.AttachSkMsgVerdict,
	"stream_parser":  ebpf.AttachSkSKBStreamParser,
	"stream_verdict": ebpf.AttachSkSKBStreamVerdict,
	"skb_verdict":    ebpf.AttachSkSKBVerdict,
	"sockops":        ebpf.AttachCGroupSockOps,
}

// AttachName is the scenario spelling of an attach type (sk_msg,
// stream_parser, stream_verdict, skb_verdict, sockops); "none" for
// ebpf.AttachNone.
func AttachName(a ebpf.AttachType) string {
	for n, v := range attachNames {
		if v == a {
			return n
		}
	}
	if a == ebpf.AttachNone {
		return "none"
	}
	return a.String()
}

// ParseAttach returns the attach type a scenario name stands for.
func ParseAttach(name string) (ebpf.AttachType, bool) {
	a, ok := attachNames[name]
	return a, ok
}

// Program is a programs: entry.
type Program struct {
	Pos            Pos
	FieldPos       map[string]Pos // where each field's value is
	ID             ProgID
	Name           string
	ObjectName     string // as written, may be ""
	Object         *Object
	Attach         ebpf.AttachType
	MapRef         string // as written
	Map            MapID  // NoMap for sockops
	ExpectRejected bool
	// Spec is a copy of the object's program with its type and expected
	// attach type set (section name, or attach: for legacy names).
	Spec *ebpf.ProgramSpec
	// OnDemand is set for a program no programs: entry lists that an
	// attach or detach step names: it is loaded by the first such step,
	// which reports the load's failure (the verifier's errno) as its own.
	OnDemand bool
}

// Listener is a listeners: entry.
type Listener struct {
	Pos  Pos
	Name string
	Addr netip.AddrPort // port 0: chosen by the backend
}

// Connection is a connections: entry.
type Connection struct {
	Pos    Pos
	Name   string
	Client netip.AddrPort
	Server netip.AddrPort
}

// Value is an encoded key or value.
type Value struct {
	Pos   Pos
	Text  string
	Bytes []byte
}

// Payload is what one buffer of a send or recv holds.
type Payload struct {
	Pos     Pos
	Data    []byte // data: or hex:
	Size    int    // with Pattern
	Pattern Pattern
}

// Pattern is a generated payload.
type Pattern int

const (
	PatternNone Pattern = iota
	PatternSeq
	PatternZero
	PatternRandom
)

// Expect is what a step expects of its operation.
type Expect struct {
	Pos      Pos
	Ret      *int64
	Errno    Errno  // 0: success expected
	Rejected bool   // programs only
	Received *int64 // stream: only this many bytes arrive
}

// StepKind names a step.
type StepKind string

const (
	StepSend     StepKind = "send"
	StepRecv     StepKind = "recv"
	StepLookup   StepKind = "lookup"
	StepUpdate   StepKind = "update"
	StepDelete   StepKind = "delete"
	StepClose    StepKind = "close"
	StepConnect  StepKind = "connect"
	StepAttach   StepKind = "attach"
	StepDetach   StepKind = "detach"
	StepFionread StepKind = "fionread"
	StepShutdown StepKind = "shutdown"
	StepSockopt  StepKind = "sockopt"
	StepEvents   StepKind = "events"
	StepStream   StepKind = "stream"
)

// Step is one entry of steps: (or of maps:, which holds updates).
type Step struct {
	Pos      Pos
	FieldPos map[string]Pos // where each field's value is
	Number   int            // 1-based within its list
	Kind     StepKind
	Expect   Expect

	Socket string // send, recv, close, fionread, shutdown, sockopt

	// send
	IOV       []Payload
	SendFlags []string
	// recv
	Want *Payload // nil: contents not checked
	Max  int      // 0: no cap
	Peek bool
	EOF  *bool

	// lookup, update, delete
	MapRef     string
	Map        MapID
	Key        Value
	Value      *Value
	SockValue  string // update socket:
	CookieOf   string // lookup cookie_of:
	MapFlags   ebpf.MapUpdateFlags
	MapFlagStr string
	// lookup on a per-CPU map: the values of all CPUs added (Sum), or one
	// value per CPU (Values)
	Sum    *Value
	Values []Value

	// events: the records expected since the previous events step on the
	// map (compared on their prefix when Prefix), or only their Count
	Records []Value
	Count   *int64
	Prefix  bool

	// connect
	Name   string
	To     string
	Client netip.AddrPort

	// attach, detach
	Program *Program
	Attach  ebpf.AttachType

	// fionread
	IntValue *int64
	// shutdown
	How int // unix SHUT_RD=0, SHUT_WR=1, SHUT_RDWR=2
	// sockopt
	OptName string
	// stream (Socket unused)
	StreamFrom    string
	StreamTo      string
	StreamSize    int64
	StreamPattern Pattern
	Chunk         int
}

// MapID names a map instance of a scenario run.
type MapID int

// NoMap is the MapID of "no map" (sockops attachment).
const NoMap MapID = -1

// ProgID names a program of a scenario run.
type ProgID int

// MapDef is one map instance: a map of one or more objects (shared by
// name and shape), or a create_maps map.
type MapDef struct {
	ID   MapID
	Name string // display name: NAME, or OBJECT/NAME when not unique
	Spec *ebpf.MapSpec
	// Created is true for create_maps maps, which the backend makes
	// itself; object maps are made when their first object is loaded.
	Created bool
	Pos     Pos
}

// IsSockMap says whether the map holds sockets.
func (m *MapDef) IsSockMap() bool {
	return m.Spec.Type == ebpf.SockMap || m.Spec.Type == ebpf.SockHash
}

// At is where a field of the program entry is written (the entry itself
// when the field is absent).
func (p *Program) At(field string) Pos {
	if q, ok := p.FieldPos[field]; ok {
		return q
	}
	return p.Pos
}

// At is where a field of the step is written (the step itself when the
// field is absent).
func (s *Step) At(field string) Pos {
	if q, ok := s.FieldPos[field]; ok {
		return q
	}
	return s.Pos
}
