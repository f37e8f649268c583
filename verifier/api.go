package verifier

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Program is the input of Verify: one program as the kernel's
// BPF_PROG_LOAD receives it, with its map references resolved to map
// descriptions instead of file descriptors.
type Program struct {
	// Name is the program's name, for messages.
	Name string
	// Type and AttachType are the program type and the expected attach
	// type (BPF_PROG_LOAD's expected_attach_type).
	Type       ebpf.ProgramType
	AttachType ebpf.AttachType
	// Instructions as package loader produces them: the entry function
	// followed by its subprograms, each subprogram's first instruction
	// carrying Symbol() and bpf-to-bpf calls and PseudoFunc loads naming
	// it with Reference() (Constant -1), or already resolved (Constant is
	// the relative offset, no Reference). Line info (Source() is a
	// *btf.Line) is used to print C source lines in the log.
	Instructions asm.Instructions
	// Maps resolves map references: LD_IMM64 with Src PseudoMapFD or
	// PseudoMapValue whose Reference() is a key of Maps. A reference with
	// no entry is refused like a bad map fd (EBADF).
	Maps map[string]*Map
	// License, "GPL" compatible or not: some helpers are GPL only.
	License string
}

// Map describes a map a program references.
type Map struct {
	Name       string
	Type       ebpf.MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	// InnerMap is the template of the maps an array/hash of maps holds.
	InnerMap *Map
	// Value is the BTF type of the value when known (nil otherwise).
	Value btf.Type
	// Frozen holds the contents of the single value of a read-only array
	// (.rodata: Flags has BPF_F_RDONLY_PROG and libbpf freezes it): the
	// kernel reads such values as constants, so branches on `const
	// volatile` settings are decided at load time. nil when not frozen.
	Frozen []byte
}

// Options change how Verify works.
type Options struct {
	// LogLevel is BPF_PROG_LOAD's log_level: 1 logs the failing path's
	// instructions with register states as the kernel does at level 1;
	// 2 logs every processed instruction. Whatever the level, Result.Log
	// holds at least the failure's lines and the summary.
	LogLevel int
	// MaxProcessed is the complexity limit in processed instructions; 0
	// means the kernel's BPF_COMPLEXITY_LIMIT_INSNS (1,000,000).
	MaxProcessed int
}

// Result is the verdict on one program.
type Result struct {
	// Accepted is the verdict: true when the kernel would load the
	// program.
	Accepted bool
	// Errno is what BPF_PROG_LOAD would fail with when refused
	// (errno.EACCES for most refusals, EINVAL for malformed programs,
	// unknown helpers, unreleased references, infinite loops, E2BIG for the
	// complexity limit); 0 when accepted. Linux numbering.
	Errno syscall.Errno
	// Insn is the index (in instruction slots, as the kernel numbers
	// them: LD_IMM64 counts two) of the instruction the verifier stopped
	// at, -1 when the refusal is not about one instruction.
	Insn int
	// Line is the C source line of Insn from BTF line info, in the
	// kernel's form ("if (data + 4 > data_end) @ prog.c:12"); "" when
	// unknown.
	Line string
	// Reason is the kernel's last meaningful log line, e.g.
	// "R7 invalid mem access 'scalar'" or "back-edge from insn 12 to 5".
	Reason string
	// Log is the whole verifier log, like the kernel's at Options.LogLevel
	// (it ends with the "processed N insns ..." summary line).
	Log string
	// Processed is the number of instructions processed (the kernel's
	// "processed N insns"); states explored for pruning statistics.
	Processed   int
	TotalStates int
	PeakStates  int
}

// Err is nil for an accepted program and a *Error otherwise.
func (r *Result) Err() error {
	if r == nil || r.Accepted {
		return nil
	}
	return &Error{Insn: r.Insn, Errno: r.Errno, Reason: r.Reason, Line: r.Line, Log: r.Log}
}

// Error is a refusal. errors.Is(err, errno.EACCES) (or the errno the
// kernel returns) holds.
type Error struct {
	Program string
	Insn    int
	Errno   syscall.Errno
	Reason  string
	Line    string
	Log     string
}

func (e *Error) Error() string {
	where := ""
	if e.Program != "" {
		where = "program " + e.Program + ": "
	}
	if e.Insn >= 0 {
		where += fmt.Sprintf("insn %d: ", e.Insn)
	}
	return fmt.Sprintf("%sverifier refused the program (%s): %s", where, ErrnoName(e.Errno), e.Reason)
}

// Unwrap returns the errno so errors.Is works.
func (e *Error) Unwrap() error { return e.Errno }

// ErrBadInput is wrapped by Verify's error when the input cannot be
// verified at all (nil program, no instructions can't be decoded, ...).
var ErrBadInput = errors.New("verifier: unusable input")

// ErrUnsupportedType is wrapped by Verify's error for a program type
// whose rules the verifier does not have (only the sockmap types: sk_msg,
// sk_skb, sock_ops).
var ErrUnsupportedType = errors.New("verifier: program type not supported")

// ErrnoName is the Linux name of an errno ("EACCES"), "" for 0.
func ErrnoName(e syscall.Errno) string {
	if e == 0 {
		return ""
	}
	return errno.Name(e)
}

// Verify checks p as the kernel's verifier would. The error is non-nil
// only for unusable input (wrapping ErrBadInput); a program the kernel
// would refuse gives a Result with Accepted false.
func Verify(p *Program, opts Options) (*Result, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil program", ErrBadInput)
	}
	return verify(p, opts)
}
