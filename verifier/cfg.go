package verifier

import (
	"fmt"
	"github.com/skmsg/skmsg/internal/errno"
	"sort"
)

// checkSubprogs finds the functions (targets of bpf-to-bpf calls and of
// function pointers), and checks that jumps stay inside their function
// and that every function ends in an exit or a jump (the kernel's
// check_subprogs).
func (v *verifier) checkSubprogs() error {
	p := v.p
	starts := map[int]bool{0: true}
	for pc := range p.insns {
		in := &p.insns[pc]
		if in.second {
			continue
		}
		if in.isPseudoCall() || (in.isLdImm64() && in.src == pseudoFunc) {
			t := pc + int(in.imm) + 1
			if t < 0 || t >= len(p.insns) {
				return v.fail(errno.EINVAL, pc, "function offset %d is invalid", in.imm)
			}
			starts[t] = true
		}
		if in.code == clsJMP|jmpCALL && in.src == pseudoKfuncCall {
			return v.fail(errno.EINVAL, pc, "calling kernel function is not supported without CONFIG_DEBUG_INFO_BTF")
		}
	}
	for s := range starts {
		p.subprogs = append(p.subprogs, s)
	}
	sort.Ints(p.subprogs)
	for i, start := range p.subprogs {
		end := len(p.insns)
		if i+1 < len(p.subprogs) {
			end = p.subprogs[i+1]
		}
		for pc := start; pc < end; pc++ {
			in := &p.insns[pc]
			if in.second || !in.isJmp() {
				continue
			}
			op := in.op()
			if op == jmpCALL || op == jmpEXIT {
				continue
			}
			off := int(in.off)
			if in.class() == clsJMP32 && op == jmpJA {
				off = int(in.imm)
			}
			t := pc + off + 1
			if t < start || t >= end {
				return v.fail(errno.EINVAL, pc, "jump out of range from insn %d to %d", pc, t)
			}
		}
		last := &p.insns[end-1]
		if last.second && end-2 >= start {
			last = &p.insns[end-2]
		}
		if !last.isJmp() || (last.op() != jmpEXIT && last.op() != jmpJA) || last.code == clsJMP|jmpCALL {
			return v.fail(errno.EINVAL, end-1, "last insn is not an exit or jmp")
		}
	}
	return nil
}

// checkCFG walks the control flow graph depth first from every function
// start, marking prune points, and refuses unreachable instructions (the
// kernel's check_cfg). Back-edges are allowed: the rules are the
// privileged ones (bounded loops).
func (v *verifier) checkCFG() error {
	p := v.p
	n := len(p.insns)
	v.prune = make([]bool, n)
	seen := make([]bool, n)
	var stack []int
	for _, s := range p.subprogs {
		if !seen[s] {
			seen[s] = true
			stack = append(stack, s)
		}
	}
	push := func(from, to int) error {
		if to < 0 || to >= n {
			return v.fail(errno.EINVAL, from, "jump out of range from insn %d to %d", from, to)
		}
		if p.insns[to].second {
			return v.fail(errno.EINVAL, from, "jump into the middle of ldimm64 insn %d", to)
		}
		if !seen[to] {
			seen[to] = true
			stack = append(stack, to)
		}
		return nil
	}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		in := &p.insns[pc]
		next := pc + 1
		if in.isLdImm64() {
			next = pc + 2
			if next > n {
				return v.fail(errno.EINVAL, pc, "invalid bpf_ld_imm64 insn")
			}
		}
		if !in.isJmp() {
			if err := push(pc, next); err != nil {
				return err
			}
			continue
		}
		switch in.op() {
		case jmpEXIT:
		case jmpCALL:
			if err := push(pc, next); err != nil {
				return err
			}
			v.prune[next%n] = true
			if in.src == pseudoCall {
				v.prune[pc] = true
			}
			if in.isHelperCall() && helperHasCallback(in.imm) {
				v.prune[pc] = true
			}
		case jmpJA:
			off := int(in.off)
			if in.class() == clsJMP32 {
				off = int(in.imm)
			}
			if err := push(pc, pc+off+1); err != nil {
				return err
			}
			v.prune[pc+off+1] = true
		default:
			v.prune[pc] = true
			if err := push(pc, next); err != nil {
				return err
			}
			t := pc + int(in.off) + 1
			if err := push(pc, t); err != nil {
				return err
			}
			v.prune[t] = true
		}
	}
	for pc := 0; pc < n; pc++ {
		if !seen[pc] && !p.insns[pc].second {
			return v.fail(errno.EINVAL, pc, "unreachable insn %d", pc)
		}
	}
	return nil
}

// liveness computes, for every instruction, the registers that may be
// read before being written on some path from it (the kernel's
// compute_live_registers); checkpoints forget the others.
func (v *verifier) liveness() {
	p := v.p
	n := len(p.insns)
	use := make([]uint16, n)
	def := make([]uint16, n)
	succ := make([][]int, n)
	for pc := 0; pc < n; pc++ {
		in := &p.insns[pc]
		if in.second {
			continue
		}
		u, d := insnUseDef(in)
		use[pc], def[pc] = u, d
		next := pc + 1
		if in.isLdImm64() {
			next = pc + 2
		}
		var s []int
		switch {
		case !in.isJmp():
			s = []int{next}
		case in.op() == jmpEXIT:
		case in.op() == jmpCALL:
			s = []int{next}
		case in.op() == jmpJA:
			off := int(in.off)
			if in.class() == clsJMP32 {
				off = int(in.imm)
			}
			s = []int{pc + off + 1}
		default:
			s = []int{next, pc + int(in.off) + 1}
		}
		for _, t := range s {
			if t >= 0 && t < n {
				succ[pc] = append(succ[pc], t)
			}
		}
	}
	liveIn := make([]uint16, n)
	for changed := true; changed; {
		changed = false
		for pc := n - 1; pc >= 0; pc-- {
			if p.insns[pc].second {
				continue
			}
			var out uint16
			for _, t := range succ[pc] {
				out |= liveIn[t]
			}
			in := use[pc] | (out &^ def[pc])
			if in != liveIn[pc] {
				liveIn[pc] = in
				changed = true
			}
		}
	}
	v.liveIn = liveIn
}

// insnUseDef returns the registers an instruction reads and writes.
func insnUseDef(in *insn) (use, def uint16) {
	b := func(r uint8) uint16 { return 1 << (r & 15) }
	switch in.class() {
	case clsALU, clsALU64:
		op := in.op()
		if op != aluMOV {
			use |= b(in.dst)
		}
		if in.srcBit() == srcX && op != aluNEG && op != aluEND {
			use |= b(in.src)
		}
		def |= b(in.dst)
	case clsLDX:
		use |= b(in.src)
		def |= b(in.dst)
	case clsST:
		use |= b(in.dst)
	case clsSTX:
		use |= b(in.dst) | b(in.src)
		if in.mode() == modeATOMIC {
			if in.imm&0x01 != 0 || in.imm == 0xe1 || in.imm == 0xf1 {
				def |= b(in.src)
			}
			if in.imm == 0xf1 {
				use |= b(0)
				def |= b(0)
			}
		}
	case clsLD:
		if in.isLdImm64() {
			def |= b(in.dst)
		} else {
			use |= b(6) | b(in.src)
			def |= 0x3f
		}
	case clsJMP, clsJMP32:
		switch in.op() {
		case jmpEXIT:
			use |= b(0)
		case jmpCALL:
			// Arguments: conservatively R1-R5 (a checkpoint keeps
			// them); the call writes R0-R5.
			use |= 0x3e
			def |= 0x3f
		case jmpJA:
		default:
			use |= b(in.dst)
			if in.srcBit() == srcX {
				use |= b(in.src)
			}
		}
	}
	use |= b(10)
	return use, def
}

var _ = fmt.Sprintf
