package cover

import (
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/vm"
)

// Recorder counts executed instructions and branch directions per
// program. It implements vm.Coverage and is safe for concurrent use by
// any number of machines.
type Recorder struct {
	// last caches the counters of the most recently covered program: runs
	// execute hundreds of instructions of one program in a row, so the
	// map behind mu is only consulted when the program changes.
	last atomic.Pointer[counts]

	mu    sync.Mutex
	progs map[*vm.Program]*counts
	order []*counts // in the order programs were first seen, for stable output
}

// counts are the counters of one loaded program, indexed by slot.
type counts struct {
	p      *vm.Program
	object string
	hits   []uint64
	// taken and fell count the two directions of the conditional jump at
	// a slot; cond marks those slots (a jump whose target is the next
	// slot has one direction only and is not a branch).
	taken []uint64
	fell  []uint64
	cond  []bool
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{progs: map[*vm.Program]*counts{}} }

// Add makes p known to the recorder as a program of object (a path, shown
// in reports and used to add up loads of the same object), so that it
// appears in the profile even if it never runs. Programs covered without
// Add are reported with an empty object.
func (r *Recorder) Add(p *vm.Program, object string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.countsLocked(p)
	c.object = object
}

// Cover implements vm.Coverage.
func (r *Recorder) Cover(p *vm.Program, pc, next int) {
	c := r.last.Load()
	if c == nil || c.p != p {
		r.mu.Lock()
		c = r.countsLocked(p)
		r.mu.Unlock()
		r.last.Store(c)
	}
	if uint(pc) >= uint(len(c.hits)) {
		return
	}
	atomic.AddUint64(&c.hits[pc], 1)
	if c.cond[pc] {
		if next == pc+1 {
			atomic.AddUint64(&c.fell[pc], 1)
		} else {
			atomic.AddUint64(&c.taken[pc], 1)
		}
	}
}

func (r *Recorder) countsLocked(p *vm.Program) *counts {
	if c := r.progs[p]; c != nil {
		return c
	}
	n := p.NumInsns()
	c := &counts{p: p, hits: make([]uint64, n), taken: make([]uint64, n), fell: make([]uint64, n), cond: make([]bool, n)}
	for pc := 0; pc < n; pc++ {
		ins, ok := p.Insn(pc)
		c.cond[pc] = ok && isBranch(ins)
	}
	r.progs[p] = c
	r.order = append(r.order, c)
	return c
}

// isBranch tells a conditional jump with two distinct successors.
func isBranch(ins asm.Instruction) bool {
	if !ins.OpCode.Class().IsJump() || ins.Offset == 0 {
		return false
	}
	switch ins.OpCode.JumpOp() {
	case asm.Ja, asm.Call, asm.Exit, asm.InvalidJumpOp:
		return false
	}
	return true
}

// snapshot copies the counters of every program, for Profile.
func (r *Recorder) snapshot() []*counts {
	r.mu.Lock()
	order := append([]*counts(nil), r.order...)
	objects := make([]string, len(order))
	for i, c := range order {
		objects[i] = c.object
	}
	r.mu.Unlock()
	out := make([]*counts, len(order))
	for i, c := range order {
		s := &counts{p: c.p, object: objects[i], cond: c.cond,
			hits: make([]uint64, len(c.hits)), taken: make([]uint64, len(c.hits)), fell: make([]uint64, len(c.hits))}
		for pc := range c.hits {
			s.hits[pc] = atomic.LoadUint64(&c.hits[pc])
			s.taken[pc] = atomic.LoadUint64(&c.taken[pc])
			s.fell[pc] = atomic.LoadUint64(&c.fell[pc])
		}
		out[i] = s
	}
	return out
}
