// Package vm is skmsg's eBPF interpreter: the whole BPF ISA (RFC 9669, cpu
// v1 to v4) executed over a bounds-checked address space of regions, with
// helper dispatch by ID, an instruction budget, kernel-like stack and call
// limits and an optional per-instruction tracer.
//
// Function pointers (the callbacks of bpf_loop and friends) are the vm's
// own business: Prepare resolves them to FuncAddr values and a helper runs
// one with Machine.CallFunc, in a new frame of the same run.
//
// A program is validated and pre-decoded once by Prepare; a Machine runs
// prepared programs. A Program is immutable and may be run by many Machines
// at once; a Machine is used by one goroutine at a time.
//
// The package knows nothing of sockets, maps' meaning or ELF: what a map
// handle or a helper means is decided by the caller through Options.
//
// # Files
//
//   - api.go, machine.go, errors.go: Program, Space, Machine, Run, errors
//   - decode.go, prepare.go, exec.go: decoding, preparation (pre-decoded
//     form, checks) and the interpreter loop
//   - memory.go: regions and checked loads and stores
//   - callback.go: calls from helpers back into the program (bpf_loop,
//     for_each_map_elem)
//   - ctxcheck.go: context access checks at prepare time
//   - trace.go, cover.go, debug.go: the tracer, coverage and the
//     debugger's hooks
package vm

// This file holds the package's public API; the implementation lives in
// prepare.go (validation and pre-decoding), ctxcheck.go (the static context
// check), exec.go (the interpreter loop), memory.go (regions), machine.go,
// callback.go (CallFunc), trace.go and errors.go.

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// Address layout: a BPF pointer is a 64-bit value whose upper 32 bits name a
// region and whose lower 32 bits are the offset inside it. Region 0 is never
// mapped, so NULL and small integers fault when dereferenced.
const (
	RegionShift = 32
	OffsetMask  = 1<<RegionShift - 1
)

// RegionID names a region in an address space.
type RegionID uint32

// Addr builds the BPF address of offset off in region id.
func Addr(id RegionID, off uint32) uint64 { return uint64(id)<<RegionShift | uint64(off) }

// Perm is what a program may do with a region.
type Perm uint8

const (
	PermRead  Perm = 1 << iota // loads (and helpers reading) allowed
	PermWrite                  // stores, atomics (and helpers writing) allowed

	PermRW = PermRead | PermWrite
)

// Accessor emulates a structure whose fields are not plain memory (a program
// context such as __sk_buff, where a 4-byte load of data yields a 64-bit
// pointer). The value Load returns is written to the destination register
// as is, without truncation to size.
type Accessor interface {
	Load(off uint32, size int) (uint64, error)
	Store(off uint32, size int, v uint64) error
}

// Region is a piece of memory a program may address.
type Region struct {
	Name string // shown in faults and traces: "stack", "ctx", "packet", "map_value(counters)", ".rodata"
	Data []byte // backing memory; for Accessor regions its length is the region size and it is never touched
	Perm Perm
	// Access, when set, serves every load and store of the region instead
	// of Data. Helpers asking for a byte view of such a region get a fault.
	Access Accessor
	Size   uint32 // size of an Accessor region (Data may then be nil)
}

// Space is the address space shared by the programs of one collection:
// global regions (global data sections, .rodata, ...) added here keep their
// address for the lifetime of the Space, so LD_IMM64 map-value pseudo
// instructions can be resolved once at Prepare time. Machines created from
// a Space see its global regions plus regions added per run.
type Space struct{ impl spaceImpl }

// NewSpace returns an empty address space.
func NewSpace() *Space { return newSpace() }

// AddGlobal maps r for every Machine of the space and returns its base
// address. Safe for concurrent use with running machines.
func (s *Space) AddGlobal(r Region) uint64 { return s.addGlobal(r) }

// HelperFunc implements one helper. Arguments are r1..r5; the result goes
// to r0. A non-nil error stops the program; it is returned from Run wrapped
// in a *HelperError naming the helper and pc. ErrStop is the exception: it
// ends the program successfully with the returned value as r0.
// A helper must not call Run on the Machine it is given; it calls back into
// the program with Machine.CallFunc.
type HelperFunc func(m *Machine, r1, r2, r3, r4, r5 uint64) (uint64, error)

// Helper describes one helper a program type may call.
type Helper struct {
	ID   asm.BuiltinFunc
	Name string // kernel name without the bpf_ prefix, e.g. "msg_redirect_map"
	Fn   HelperFunc
}

// Helpers is the allow-list of a program type: a call to an ID not in it is
// rejected by Prepare, naming the helper.
type Helpers map[asm.BuiltinFunc]Helper

// Options tells Prepare what the program may use.
type Options struct {
	// Helpers allowed for the program type.
	Helpers Helpers
	// ResolveImm64 resolves LD_IMM64 pseudo forms (map by fd / index, map
	// value address, BTF id, ...). It gets the first half of the pair,
	// which still carries its Reference/Metadata from the loader, and
	// returns the 64-bit value to load. Plain LD_IMM64 and function
	// pointers (asm.PseudoFunc, resolved by Prepare) never reach it.
	// Without it, pseudo forms are rejected.
	ResolveImm64 func(pc int, ins asm.Instruction) (uint64, error)
	// CheckContext, when set, is called at Prepare time for every load and
	// store whose base register provably holds the context pointer (r1 at
	// entry, propagated through moves, constant adds and stack spills), as
	// the kernel verifier's is_valid_access does. off is the offset into
	// the context; a non-nil error rejects the program at that pc.
	CheckContext func(pc int, off int32, size int, write bool, signExtend bool) error
	// Budget is the default instruction budget of a run; 0 means 1,000,000.
	Budget uint64
}

// Program is a validated, pre-decoded program. It is immutable.
type Program struct {
	Name  string
	Insns asm.Instructions // as given (with source line metadata), for traces
	impl  programImpl
}

// Prepare validates insns (opcodes, registers, jump and call targets in
// range, no fall-through off the end, LD_IMM64 pairs, allowed helpers,
// context accesses) and pre-decodes them for space. Errors are
// *ProgramError values.
func Prepare(space *Space, name string, insns asm.Instructions, opts Options) (*Program, error) {
	return prepare(space, name, insns, opts)
}

// NumInsns is the number of 8-byte instruction slots of p.
func (p *Program) NumInsns() int { return p.numInsns() }

// Limits like the kernel's.
const (
	StackSize     = 512 // bytes per frame
	MaxCallDepth  = 8   // frames, the entry frame included
	MaxTailCalls  = 33  // tail calls in one chain
	DefaultBudget = 1_000_000
	NumRegs       = 11
)

// Tracer observes execution. With no tracer set a Machine pays nothing for
// tracing.
type Tracer interface {
	// Step is called after each executed instruction.
	Step(s *Step)
	// Helper is called after each helper call returns.
	Helper(h *HelperCall)
}

// Step describes one executed instruction. The pointer is only valid during
// the call.
type Step struct {
	Program *Program
	Frame   int // call depth, 0 for the entry function
	PC      int // instruction slot index in Program.Insns numbering
	Insn    asm.Instruction
	Before  [NumRegs]uint64
	After   [NumRegs]uint64
	// Mem is set for stores and atomics: what was written where.
	Mem *MemWrite
}

// MemWrite is one store seen by a tracer.
type MemWrite struct {
	Addr   uint64
	Size   int
	Value  uint64
	Region string
}

// HelperCall describes one helper call seen by a tracer.
type HelperCall struct {
	Program *Program
	PC      int
	Helper  Helper
	Args    [5]uint64
	Ret     uint64
	Err     error
}

// Machine runs programs. It owns the stack, the per-run regions and the
// register file. Create one per goroutine (or pool them).
type Machine struct {
	impl machineImpl
	// User is for the embedder (the runtime puts its per-run state here so
	// helpers can reach it).
	User any
}

// NewMachine returns a machine over space.
func (s *Space) NewMachine() *Machine { return s.newMachine() }

// AddRegion maps r until the next Reset and returns its base address. The
// embedder adds the context and packet before Run; helpers add map values
// during it.
func (m *Machine) AddRegion(r Region) uint64 { return m.addRegion(r) }

// Reset drops all per-run regions. It does not allocate.
func (m *Machine) Reset() { m.reset() }

// Run executes p with r1 = arg and returns r0. Run does not allocate on its
// fast path. The budget of the run is the program's unless SetBudget was
// called. The stack is not cleared between runs (the kernel does not clear
// it either); the registers other than r1 and r10 start at zero.
func (m *Machine) Run(p *Program, arg uint64) (uint64, error) { return m.run(p, arg) }

// SetBudget overrides the instruction budget of later runs; 0 restores the
// program's default.
func (m *Machine) SetBudget(n uint64) { m.setBudget(n) }

// SetTracer sets (or with nil clears) the tracer.
func (m *Machine) SetTracer(t Tracer) { m.setTracer(t) }

// Executed is the number of instructions executed by the last Run (an
// LD_IMM64 counts once; an instruction that faulted counts).
func (m *Machine) Executed() uint64 { return m.executed() }

// Bytes returns a view of n bytes at addr, checked for bounds and for perm.
// Helpers use it to read and write program memory. A failure is a *Fault.
func (m *Machine) Bytes(addr uint64, n int, perm Perm) ([]byte, error) { return m.bytes(addr, n, perm) }

// TailCall is called by the tail_call helper: after the helper returns
// (without error), the machine continues at the start of next with the
// current r1, in the current stack frame (as the kernel does, next reuses
// the frame of the caller; it is not cleared). A tail call made in a
// subprogram replaces that subprogram: next's exit returns to its caller.
// Past MaxTailCalls it returns ErrTailCallLimit and the helper should
// return a negative value, as the kernel falls through to the next insn.
func (m *Machine) TailCall(next *Program) error { return m.tailCall(next) }

// FuncRegion is the region id of function pointers: an LD_IMM64 of a
// function (src BPF_PSEUDO_FUNC, the callback argument of bpf_loop and
// friends) loads FuncAddr(slot of the function). Prepare resolves it
// itself; Options.ResolveImm64 never sees one. The region is never mapped,
// so a program dereferencing a function pointer faults.
const FuncRegion RegionID = HandleBase - 1

// FuncAddr is the function pointer value of the function starting at slot
// pc of a program.
func FuncAddr(pc int) uint64 { return Addr(FuncRegion, uint32(pc)) }

// CallFunc calls the function fn points to (a value the running program
// loaded with a function pointer LD_IMM64) with r1..r5 and returns its r0.
// It is for helpers that take a callback (bpf_loop, for_each_map_elem) and
// may only be called from a helper during Run. The callee runs in a new
// frame of the current run: it counts toward MaxCallDepth and the run's
// instruction budget, sees the run's regions, and is traced when a tracer
// is set (its Steps have Frame one deeper than the helper call's, and come
// before the Step of that call). The caller's registers are as they were
// when CallFunc returns.
//
// A fault, budget exhaustion or helper failure inside the callee is
// returned as the error; a helper should return it unchanged, and Run then
// reports it as if it had happened outside a callback (a *Fault at the pc
// inside the callee, say). ErrStop is returned with the callee's r0 when a
// helper inside it stopped the program; the helper should return both.
func (m *Machine) CallFunc(fn uint64, r1, r2, r3, r4, r5 uint64) (uint64, error) {
	return m.callFunc(fn, [5]uint64{r1, r2, r3, r4, r5})
}

// Program is the program currently executing (changes on tail calls).
func (m *Machine) Program() *Program { return m.program() }

// Errors.
var (
	ErrBudget        = errors.New("instruction budget exhausted")
	ErrCallDepth     = errors.New("call depth exceeds 8 frames")
	ErrTailCallLimit = errors.New("tail call chain exceeds 33")
	ErrNotFunc       = errors.New("not a function pointer of the running program")
)

// FaultKind says what was wrong with a memory access.
type FaultKind uint8

const (
	FaultUnmapped   FaultKind = iota + 1 // region does not exist (incl. NULL)
	FaultBounds                          // outside the region
	FaultPermission                      // write to read-only, or read of write-only
	FaultAccessor                        // the region's Accessor refused
)

// Fault is a memory access error. It names the instruction, the address,
// the access size, the region and what was wrong.
type Fault struct {
	Program string
	PC      int
	Insn    string
	Addr    uint64
	Size    int
	Write   bool
	Region  string // "" when unmapped
	Kind    FaultKind
	Err     error // underlying accessor error, if any
}

func (f *Fault) Error() string { return f.error() }
func (f *Fault) Unwrap() error { return f.Err }

// ProgramError rejects a program at Prepare time.
type ProgramError struct {
	Program string
	PC      int
	Reason  string
}

func (e *ProgramError) Error() string {
	return fmt.Sprintf("program %s: pc %d: %s", e.Program, e.PC, e.Reason)
}

// RunError wraps any other run-time stop (budget, call depth, helper error)
// with the program and pc where it happened.
type RunError struct {
	Program string
	PC      int
	Err     error
}

func (e *RunError) Error() string {
	return fmt.Sprintf("program %s: pc %d: %v", e.Program, e.PC, e.Err)
}
func (e *RunError) Unwrap() error { return e.Err }
