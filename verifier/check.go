package verifier

import (
	"errors"
	"fmt"
	"github.com/skmsg/skmsg/internal/errno"
	"strings"
	"syscall"
)

const complexityLimit = 1_000_000

// verifier holds one verification (struct bpf_verifier_env).
type verifier struct {
	p      *program
	opts   Options
	pt     *progTypeRules
	log    strings.Builder
	idGen  uint32
	prune  []bool
	liveIn []uint16

	cur   *vstate
	stack []*vstate
	// explored holds the checkpoints by instruction.
	explored  map[int][]*checkpoint
	processed int
	jmps      int
	prevInsns int
	prevJmps  int
	total     int
	peak      int
	live      int

	// failure
	errno  syscall.Errno
	errPC  int
	reason string

	// pathLog collects the current path's lines at log level 1.
	maxDepth  map[int]int // stack depth by subprog
	seenCalls map[int][]int

	// stepLogPos is where the current instruction's error lines start
	// in the log; failPos and failState are the first failure's.
	stepLogPos int
	failPos    int
	failState  string

	// globals are the global functions by start; curGlobal is the one
	// being verified on its own (nil for the main program).
	globals   map[int]*globalFunc
	curGlobal *globalFunc
}

// checkpoint is a state remembered at a prune point.
type checkpoint struct {
	st       *vstate
	branches int
	parent   *checkpoint
	insn     int
	hit      int
	miss     int
}

// errRefused stops the walk once v.fail recorded a refusal.
var errRefused = errors.New("refused")

// fail records the refusal (the kernel's last log line) and returns
// errRefused.
func (v *verifier) fail(errno syscall.Errno, pc int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	v.logf("%s\n", msg)
	if v.errno == 0 {
		v.errno = errno
		v.errPC = pc
		v.reason = msg
		v.noteFailure()
	}
	return errRefused
}

// noteFailure remembers where the failing instruction's lines go in the
// log and the register state it failed in.
func (v *verifier) noteFailure() {
	if v.cur == nil || v.stepLogPos < 0 {
		v.failPos = -1
		return
	}
	v.failPos = v.stepLogPos
	v.failState = v.fmtState(v.cur)
}

// failureContext is what the log shows before the verifier's words: the
// C line and the instruction (at log level 0, where no instruction was
// printed), and the register state the instruction saw.
func (v *verifier) failureContext() string {
	var b strings.Builder
	if v.opts.LogLevel == 0 && v.errPC >= 0 && v.errPC < len(v.p.insns) {
		if l := v.p.lineOf(v.errPC); l != "" {
			fmt.Fprintf(&b, "; %s\n", l)
		}
		fmt.Fprintf(&b, "%d: %s\n", v.errPC, v.disasm(v.errPC))
	}
	if v.failState != "" {
		fmt.Fprintf(&b, "%s\n", v.failState)
	}
	return b.String()
}

// failLines records a refusal printed on several lines, the last being
// the reason.
func (v *verifier) failLines(errno syscall.Errno, pc int, lines ...string) error {
	for _, l := range lines[:len(lines)-1] {
		v.logf("%s\n", l)
	}
	return v.fail(errno, pc, "%s", lines[len(lines)-1])
}

func (v *verifier) logf(format string, args ...any) {
	fmt.Fprintf(&v.log, format, args...)
}

func (v *verifier) newID() uint32 {
	v.idGen++
	return v.idGen
}

func verify(p *Program, opts Options) (*Result, error) {
	prog, err := decode(p)
	if err != nil {
		return nil, err
	}
	if opts.MaxProcessed <= 0 {
		opts.MaxProcessed = complexityLimit
	}
	v := &verifier{p: prog, opts: opts, explored: map[int][]*checkpoint{}, errPC: -1, stepLogPos: -1, failPos: -1,
		maxDepth: map[int]int{}}
	v.pt = rulesFor(p.Type, p.AttachType)
	if v.pt == nil {
		return nil, fmt.Errorf("program %s: type %s: %w", p.Name, p.Type, ErrUnsupportedType)
	}
	err = v.run()
	res := &Result{Insn: -1, Processed: v.processed, TotalStates: v.total, PeakStates: v.peak}
	if err != nil && !errors.Is(err, errRefused) {
		return nil, err
	}
	if v.errno == 0 {
		res.Accepted = true
		v.logf("processed %d insns (limit %d) max_states_per_insn %d total_states %d peak_states %d mark_read 0\n",
			v.processed, complexityLimit, v.maxStatesPerInsn(), v.total, v.peak)
	} else {
		res.Errno = v.errno
		res.Insn = v.errPC
		res.Reason = v.reason
		if v.errPC >= 0 && v.errPC < len(prog.insns) {
			res.Line = prog.lineOf(v.errPC)
		}
		v.logf("processed %d insns (limit %d) max_states_per_insn %d total_states %d peak_states %d mark_read 0\n",
			v.processed, complexityLimit, v.maxStatesPerInsn(), v.total, v.peak)
	}
	res.Log = v.log.String()
	if v.errno != 0 && v.failPos >= 0 && v.failPos <= len(res.Log) {
		res.Log = res.Log[:v.failPos] + v.failureContext() + res.Log[v.failPos:]
	}
	return res, nil
}

func (v *verifier) maxStatesPerInsn() int {
	m := 0
	for _, l := range v.explored {
		m = max(m, len(l))
	}
	return m
}

func (v *verifier) run() error {
	if err := v.checkLdImm(); err != nil {
		return err
	}
	if err := v.checkSubprogs(); err != nil {
		return err
	}
	if err := v.checkCFG(); err != nil {
		return err
	}
	v.liveness()
	v.findGlobals()
	if err := v.walk(v.initState()); err != nil {
		return err
	}
	if err := v.checkGlobals(); err != nil {
		return err
	}
	return v.checkStackDepth()
}

// checkLdImm resolves LD_IMM64 pseudo sources (resolve_pseudo_ldimm64).
func (v *verifier) checkLdImm() error {
	p := v.p
	for pc := 0; pc < len(p.insns); pc++ {
		in := &p.insns[pc]
		if in.second {
			continue
		}
		if in.class() == clsLDX && ((in.mode() != modeMEM && in.mode() != modeMEMSX) || in.imm != 0) {
			return v.fail(errno.EINVAL, pc, "BPF_LDX uses reserved fields")
		}
		if in.class() == clsLD && in.mode() == modeIMM && !in.isLdImm64() {
			return v.fail(errno.EINVAL, pc, "unknown opcode %02x", in.code)
		}
		if !in.isLdImm64() {
			continue
		}
		if pc+1 >= len(p.insns) || !p.insns[pc+1].second {
			return v.fail(errno.EINVAL, pc, "invalid bpf_ld_imm64 insn")
		}
		sec := &p.insns[pc+1]
		if sec.code != 0 || sec.dst != 0 || sec.src != 0 || sec.off != 0 {
			return v.fail(errno.EINVAL, pc, "invalid bpf_ld_imm64 insn")
		}
		switch in.src {
		case 0, pseudoFunc, pseudoBTFID:
		case pseudoMapFD, pseudoMapValue, pseudoMapIdx, pseudoMapIdxVal:
			if in.m == nil {
				return v.fail(errno.EBADF, pc, "fd %d is not pointing to valid bpf_map", in.imm)
			}
			if in.src == pseudoMapValue || in.src == pseudoMapIdxVal {
				off := uint32(sec.imm)
				if off >= in.m.ValueSize {
					return v.fail(errno.EINVAL, pc, "invalid access to map value pointer, value_size=%d off=%d", in.m.ValueSize, off)
				}
			}
		default:
			return v.fail(errno.EINVAL, pc, "unrecognized bpf_ld_imm64 insn")
		}
	}
	return nil
}

// initState is the state at the program's entry: R1 the context, R10
// the frame pointer.
func (v *verifier) initState() *vstate {
	f := &frame{callsite: -1}
	for i := range f.regs {
		f.regs[i].markNotInit()
	}
	f.regs[1].markPtr(ptrToCtx)
	f.regs[10].markPtr(ptrToStack)
	return &vstate{frames: []*frame{f}}
}

// walk explores every path from st (do_check).
func (v *verifier) walk(st *vstate) error {
	v.cur = st
	for {
		if v.cur == nil {
			if len(v.stack) == 0 {
				return nil
			}
			v.cur = v.stack[len(v.stack)-1]
			v.stack = v.stack[:len(v.stack)-1]
			if v.opts.LogLevel >= 1 {
				v.logf("from %d: %s\n", v.cur.insn, v.fmtState(v.cur))
			}
		}
		pc := v.cur.insn
		if pc < 0 || pc >= len(v.p.insns) {
			return v.fail(errno.EFAULT, pc, "invalid insn idx %d insn_cnt %d", pc, len(v.p.insns))
		}
		v.processed++
		if v.processed > v.opts.MaxProcessed {
			return v.fail(errno.E2BIG, pc, "BPF program is too large. Processed %d insn", v.processed)
		}
		if v.prune[pc] {
			pruned, err := v.isStateVisited(pc)
			if err != nil {
				return err
			}
			if pruned {
				if v.opts.LogLevel >= 1 {
					v.logf("%d: safe\n", pc)
				}
				v.finishPath()
				continue
			}
		}
		if v.opts.LogLevel >= 1 {
			if l := v.p.lineAt(pc); l != nil {
				v.logf("; %s\n", v.p.lineOf(pc))
			}
			v.logf("%d: %s\n", pc, v.disasm(pc))
		}
		v.stepLogPos = v.log.Len()
		if err := v.step(pc); err != nil {
			return err
		}
	}
}

// finishPath ends the current path (exit or pruned) and updates the
// checkpoints' branch counts (update_branch_counts).
func (v *verifier) finishPath() {
	for c := v.cur.parent; c != nil; c = c.parent {
		c.branches--
		if c.branches > 0 {
			break
		}
	}
	v.cur = nil
}

// pushBranch queues a copy of the current state to continue at insn.
func (v *verifier) pushBranch(st *vstate, insn int) error {
	st.insn = insn
	if st.parent != nil {
		st.parent.branches++
	}
	v.stack = append(v.stack, st)
	if len(v.stack) > 8192 {
		return v.fail(errno.E2BIG, insn, "The sequence of %d jumps is too complex.", len(v.stack))
	}
	return nil
}

// step processes one instruction of the current state.
func (v *verifier) step(pc int) error {
	in := &v.p.insns[pc]
	switch in.class() {
	case clsALU, clsALU64:
		if err := v.checkALU(pc, in); err != nil {
			return err
		}
		v.cur.insn = pc + 1
	case clsLDX:
		if err := v.checkLoad(pc, in); err != nil {
			return err
		}
		v.cur.insn = pc + 1
	case clsSTX:
		if in.mode() == modeATOMIC {
			if err := v.checkAtomic(pc, in); err != nil {
				return err
			}
		} else if err := v.checkStore(pc, in); err != nil {
			return err
		}
		v.cur.insn = pc + 1
	case clsST:
		if err := v.checkStoreImm(pc, in); err != nil {
			return err
		}
		v.cur.insn = pc + 1
	case clsLD:
		if in.isLdImm64() {
			if err := v.checkLdImm64(pc, in); err != nil {
				return err
			}
			v.cur.insn = pc + 2
			return nil
		}
		if in.mode() == modeABS || in.mode() == modeIND {
			return v.fail(errno.EINVAL, pc, "BPF_LD_[ABS|IND] instructions not allowed for this program type")
		}
		return v.fail(errno.EINVAL, pc, "unknown opcode %02x", in.code)
	case clsJMP, clsJMP32:
		return v.checkJmp(pc, in)
	}
	return nil
}

func (v *verifier) regs() *[11]regState { return &v.cur.cur().regs }

// checkRegRead is check_reg_arg(..., SRC_OP).
func (v *verifier) checkRegRead(pc int, r uint8) error {
	if r > 10 {
		return v.fail(errno.EINVAL, pc, "R%d is invalid", r)
	}
	if v.regs()[r].typ == notInit {
		return v.fail(errno.EACCES, pc, "R%d !read_ok", r)
	}
	return nil
}

// checkRegWrite is check_reg_arg(..., DST_OP).
func (v *verifier) checkRegWrite(pc int, r uint8) error {
	if r > 10 {
		return v.fail(errno.EINVAL, pc, "R%d is invalid", r)
	}
	if r == 10 {
		return v.fail(errno.EACCES, pc, "frame pointer is read only")
	}
	return nil
}

func (v *verifier) checkLdImm64(pc int, in *insn) error {
	if err := v.checkRegWrite(pc, in.dst); err != nil {
		return err
	}
	r := &v.regs()[in.dst]
	hi := uint32(v.p.insns[pc+1].imm)
	switch in.src {
	case 0:
		r.markConst(in.imm64)
	case pseudoMapFD, pseudoMapIdx:
		r.markPtr(constPtrToMap)
		r.m = in.m
	case pseudoMapValue, pseudoMapIdxVal:
		r.markPtr(ptrToMapValue)
		r.m = in.m
		r.off = int32(hi)
	case pseudoFunc:
		r.markPtr(ptrToFunc)
		r.subprog = int32(pc + int(in.imm) + 1)
	case pseudoBTFID:
		r.markPtr(ptrToBTFID)
	}
	return nil
}

func (v *verifier) checkStackDepth() error {
	// The deepest chain of frames, each rounded up to 32 bytes, must fit
	// the 512-byte stack (check_max_stack_depth).
	var walk func(sub int, seen map[int]bool) int
	walk = func(sub int, seen map[int]bool) int {
		d := roundUp32(v.maxDepth[sub])
		best := 0
		if seen[sub] {
			return d
		}
		seen[sub] = true
		for _, c := range v.seenCalls[sub] {
			best = max(best, walk(c, seen))
		}
		delete(seen, sub)
		return d + best
	}
	if d := walk(0, map[int]bool{}); d > maxStack && len(v.seenCalls) > 0 {
		return v.fail(errno.EACCES, -1, "combined stack size of %d calls is %d. Too large", len(v.seenCalls)+1, d)
	}
	return nil
}

func roundUp32(d int) int {
	if d < 1 {
		d = 1
	}
	return (d + 31) &^ 31
}

func (v *verifier) subprogOf(pc int) int {
	s := 0
	for _, st := range v.p.subprogs {
		if st <= pc {
			s = st
		}
	}
	return s
}

func (v *verifier) noteStackDepth(f *frame, off int) {
	if off < 0 {
		if d := -off; d > v.maxDepth[f.subprog] {
			v.maxDepth[f.subprog] = d
		}
	}
}
