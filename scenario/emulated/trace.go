package emulated

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/runtime"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/vm"
)

// ProgramRun is one run of a program on skmsg: which program, for which
// socket, what it returned and what the runtime made of it, and (when the
// backend traces) every instruction it executed.
type ProgramRun struct {
	Program string `json:"program"`
	Type    string `json:"type"`             // sk_msg, sk_skb, sock_ops
	Socket  string `json:"socket,omitempty"` // the scenario's name for it where known
	// Size and SizeAfter are the message bytes before and after the run.
	Size      uint32 `json:"size"`
	SizeAfter uint32 `json:"size_after"`
	Return    uint64 `json:"ret"`
	// Verdict is pass, drop or redirect; empty for runs the runtime
	// reports no verdict for (tail-called programs).
	Verdict    string `json:"verdict,omitempty"`
	Target     string `json:"target,omitempty"`
	Ingress    bool   `json:"ingress,omitempty"`
	ApplyBytes uint32 `json:"apply_bytes,omitempty"`
	CorkBytes  uint32 `json:"cork_bytes,omitempty"`
	// Err is a run-time stop of the program (fault, budget exhausted).
	Err string `json:"error,omitempty"`

	Insns []TracedInsn `json:"-"`
	// Truncated counts instructions executed beyond MaxTracedInsns.
	Truncated int `json:"-"`
}

// MaxTracedInsns bounds the instructions kept per traced run.
const MaxTracedInsns = 100_000

// TracedInsn is one executed instruction.
type TracedInsn struct {
	Frame int
	PC    int
	Insn  asm.Instruction
	// Source is the C source line the instruction belongs to (BTF line
	// info), nil when the object has none.
	Source *btf.Line
	// Regs are the registers the instruction changed.
	Regs []RegChange
	// Mem is what a store or atomic wrote.
	Mem *vm.MemWrite
	// Helper is set for a helper call.
	Helper *TracedHelper
}

// RegChange is a register's value before and after an instruction.
type RegChange struct {
	Reg           asm.Register
	Before, After uint64
}

// TracedHelper is one helper call: arguments r1..r5 and the result.
type TracedHelper struct {
	ID   asm.BuiltinFunc
	Name string
	Args [5]uint64
	Ret  uint64
	Err  string
	// Format is the format string of a bpf_trace_printk call when it lies
	// in global data (.rodata, as bpf_printk puts it).
	Format string
}

// runTracer collects program runs for a session: it is the runtime's
// Observer (one event per run, with the verdict) and, when tracing, its
// Tracer (one event per instruction). Instructions are grouped by program
// until the run's Observer event arrives; runs of different programs may
// interleave (a sender's sk_msg and a receiver's parser run on different
// goroutines), runs of one program may not.
type runTracer struct {
	trace bool
	names *socketNames

	mu      sync.Mutex
	pending map[*vm.Program]*ProgramRun
	sources map[*vm.Program][]*btf.Line
	helper  map[*vm.Program]*TracedHelper // a call reported before its Step
	cur     []*ProgramRun
	steps   [][]*ProgramRun
}

func newRunTracer(trace bool) *runTracer {
	return &runTracer{
		trace:   trace,
		pending: map[*vm.Program]*ProgramRun{},
		sources: map[*vm.Program][]*btf.Line{},
		helper:  map[*vm.Program]*TracedHelper{},
	}
}

// sourceOf returns the source line of pc: BTF line info marks the first
// instruction of each line, so the others inherit it from the closest one
// before them.
func (t *runTracer) sourceOf(p *vm.Program, pc int) *btf.Line {
	lines, ok := t.sources[p]
	if !ok {
		lines = make([]*btf.Line, len(p.Insns))
		var cur *btf.Line
		for i := range p.Insns {
			if l, ok := p.Insns[i].Source().(*btf.Line); ok {
				cur = l
			}
			lines[i] = cur
		}
		t.sources[p] = lines
	}
	i := p.InsnIndex(pc)
	if i < 0 || i >= len(lines) {
		return nil
	}
	return lines[i]
}

func (t *runTracer) run(p *vm.Program) *ProgramRun {
	r := t.pending[p]
	if r == nil {
		r = &ProgramRun{Program: p.Name}
		t.pending[p] = r
	}
	return r
}

// Step implements vm.Tracer.
func (t *runTracer) Step(s *vm.Step) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.run(s.Program)
	if len(r.Insns) >= MaxTracedInsns {
		r.Truncated++
		return
	}
	ti := TracedInsn{Frame: s.Frame, PC: s.PC, Insn: s.Insn, Source: t.sourceOf(s.Program, s.PC)}
	for i := range s.Before {
		if s.Before[i] != s.After[i] {
			ti.Regs = append(ti.Regs, RegChange{Reg: asm.Register(i), Before: s.Before[i], After: s.After[i]})
		}
	}
	if s.Mem != nil {
		m := *s.Mem
		ti.Mem = &m
	}
	if h := t.helper[s.Program]; h != nil && s.Insn.IsBuiltinCall() {
		ti.Helper = h
		delete(t.helper, s.Program)
	}
	r.Insns = append(r.Insns, ti)
}

// Helper implements vm.Tracer.
func (t *runTracer) Helper(h *vm.HelperCall) {
	t.mu.Lock()
	defer t.mu.Unlock()
	th := &TracedHelper{ID: h.Helper.ID, Name: h.Helper.Name, Args: h.Args, Ret: h.Ret}
	if th.Name == "" {
		th.Name = h.Helper.ID.String()
	}
	if h.Err != nil {
		th.Err = h.Err.Error()
	}
	if h.Helper.ID == asm.FnTracePrintk {
		th.Format = globalString(h.Program, h.Args[0], h.Args[1])
	}
	// The call's Step may come before or after this report.
	r := t.run(h.Program)
	if n := len(r.Insns); n > 0 && r.Insns[n-1].PC == h.PC && r.Insns[n-1].Helper == nil && r.Insns[n-1].Insn.IsBuiltinCall() {
		r.Insns[n-1].Helper = th
		return
	}
	t.helper[h.Program] = th
}

// ProgramRun implements runtime.Observer.
func (t *runTracer) ProgramRun(ev *runtime.RunEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var r *ProgramRun
	if ev.Program != nil && ev.Program.VM != nil {
		r = t.pending[ev.Program.VM]
		delete(t.pending, ev.Program.VM)
	}
	if r == nil {
		r = &ProgramRun{}
	}
	if ev.Program != nil {
		r.Program = ev.Program.Name
	}
	r.Type = loader.ProgramTypeName(ev.Type)
	r.Socket = t.names.of(ev.Socket)
	r.Size, r.SizeAfter, r.Return = ev.Size, ev.SizeAfter, ev.Return
	r.Verdict = ev.Verdict
	if ev.Target != nil {
		r.Target, r.Ingress = t.names.of(ev.Target), ev.Ingress
	}
	r.ApplyBytes, r.CorkBytes = ev.ApplyBytes, ev.CorkBytes
	if ev.Err != nil {
		r.Err = ev.Err.Error()
	}
	t.cur = append(t.cur, r)
}

// endStep closes the current step's list of runs. Traced runs with no
// Observer event (tail-called programs) are kept without a verdict.
func (t *runTracer) endStep() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, r := range t.pending {
		if r.Type == "" {
			r.Type = "unreported"
		}
		t.cur = append(t.cur, r)
		delete(t.pending, p)
	}
	t.steps = append(t.steps, t.cur)
	t.cur = nil
}

// socketNames gives the runtime's sockets the names the scenario uses
// (a.client, l1, c.server). The runner makes sockets in a fixed order —
// listeners:, then connections: (each a listener closed after the
// accept), then connect steps — so the session can follow it.
type socketNames struct {
	sc        *scenario.Scenario
	mu        sync.Mutex
	listens   int
	listener  map[scenario.SocketID]string // listeners: entries
	connOf    map[scenario.SocketID]string // a connections: entry's listener
	usedSteps map[*scenario.Step]bool
	byPtr     map[*runtime.Socket]string
}

func newSocketNames(sc *scenario.Scenario) *socketNames {
	return &socketNames{sc: sc, listener: map[scenario.SocketID]string{}, connOf: map[scenario.SocketID]string{},
		usedSteps: map[*scenario.Step]bool{}, byPtr: map[*runtime.Socket]string{}}
}

func (n *socketNames) listen(id scenario.SocketID, s *runtime.Socket) {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := n.listens
	n.listens++
	if n.sc == nil {
		return
	}
	if i < len(n.sc.Listeners) {
		n.listener[id] = n.sc.Listeners[i].Name
		n.byPtr[s] = n.sc.Listeners[i].Name
		return
	}
	if j := i - len(n.sc.Listeners); j < len(n.sc.Connections) {
		n.connOf[id] = n.sc.Connections[j].Name
		n.byPtr[s] = n.sc.Connections[j].Name + " listener"
	}
}

func (n *socketNames) connect(listener scenario.SocketID, cli, srv *runtime.Socket) {
	n.mu.Lock()
	defer n.mu.Unlock()
	name := n.connOf[listener]
	if l, ok := n.listener[listener]; ok && n.sc != nil {
		for _, st := range n.sc.Steps {
			if st.Kind == scenario.StepConnect && st.To == l && !n.usedSteps[st] {
				n.usedSteps[st] = true
				name = st.Name
				break
			}
		}
	}
	if name != "" {
		n.byPtr[cli] = name + ".client"
		n.byPtr[srv] = name + ".server"
	}
}

// of names a socket: the scenario's name, else its descriptor number and
// addresses.
func (n *socketNames) of(s *runtime.Socket) string {
	if s == nil {
		return ""
	}
	n.mu.Lock()
	name, ok := n.byPtr[s]
	n.mu.Unlock()
	if ok {
		return name
	}
	return fmt.Sprintf("fd %d (%s → %s)", s.FD(), s.LocalAddr(), s.RemoteAddr())
}

// globalString reads n bytes at addr when they lie in a global region of
// p's address space (a stack or context address gives ""), up to a NUL.
func globalString(p *vm.Program, addr, n uint64) string {
	id := vm.RegionID(addr >> vm.RegionShift)
	if !id.IsGlobal() || p.Space() == nil {
		return ""
	}
	r, ok := p.Space().Global(id)
	off := addr & vm.OffsetMask
	if !ok || r.Data == nil || off > uint64(len(r.Data)) || n > uint64(len(r.Data))-off {
		return ""
	}
	b := r.Data[off : off+n]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
