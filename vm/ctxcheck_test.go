package vm_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

type ctxAccess struct {
	pc    int
	off   int32
	size  int
	write bool
	sx    bool
}

func (a ctxAccess) String() string {
	return fmt.Sprintf("pc%d off%d size%d w%v sx%v", a.pc, a.off, a.size, a.write, a.sx)
}

func TestCheckContext(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []ctxAccess
	}{
		{"direct", "ldxw %r0, [%r1+4]\nexit", []ctxAccess{{0, 4, 4, false, false}}},
		{"moved and offset", "mov %r6, %r1\nadd %r6, 8\nldxh %r0, [%r6+2]\nstw [%r6-4], 1\nexit",
			[]ctxAccess{{2, 10, 2, false, false}, {3, 4, 4, true, false}}},
		{"sign-extending load", "ldxsb %r0, [%r1+3]\nexit", []ctxAccess{{0, 3, 1, false, true}}},
		{"spilled and filled", "stxdw [%r10-16], %r1\nmov %r1, 0\nldxdw %r2, [%r10-16]\nldxb %r0, [%r2+1]\nexit",
			[]ctxAccess{{3, 1, 1, false, false}}},
		{"spill through a frame pointer copy", "mov %r3, %r10\nadd %r3, -8\nstxdw [%r3+0], %r1\nldxdw %r4, [%r10-8]\nstxw [%r4+12], %r0\nexit",
			[]ctxAccess{{4, 12, 4, true, false}}},
		{"spill overwritten", "stxdw [%r10-8], %r1\nstw [%r10-4], 0\nldxdw %r2, [%r10-8]\nldxb %r0, [%r2+1]\nexit", nil},
		{"clobbered by a helper", "mov %r6, %r1\ncall 1\nldxw %r0, [%r1+0]\nldxw %r0, [%r6+0]\nexit",
			[]ctxAccess{{3, 0, 4, false, false}}},
		{"joins that agree", "mov %r2, %r1\njeq %r0, 0, +1\nmov %r2, %r1\nldxw %r0, [%r2+8]\nexit",
			[]ctxAccess{{3, 8, 4, false, false}}},
		{"joins that disagree", "mov %r2, %r1\njeq %r0, 0, +1\nadd %r2, 4\nldxw %r0, [%r2+8]\nexit", nil},
		{"stack and other memory are not context", "ldxdw %r2, [%r1+0]\nldxw %r0, [%r2+0]\nldxw %r0, [%r10-4]\nexit",
			[]ctxAccess{{0, 0, 8, false, false}}},
		{"passed to a subprogram", "call local f\nexit\nf:\nldxw %r0, [%r1+16]\nexit", []ctxAccess{{2, 16, 4, false, false}}},
		{"loop keeps the context", "mov %r6, %r1\nmov %r7, 3\nloop:\nldxw %r0, [%r6+0]\nsub %r7, 1\njne %r7, 0, loop\nexit",
			[]ctxAccess{{2, 0, 4, false, false}}},
		{"pointer walked in a loop is unknown", "mov %r6, %r1\nmov %r7, 3\nloop:\nldxw %r0, [%r6+0]\nadd %r6, 4\nsub %r7, 1\njne %r7, 0, loop\nexit", nil},
		{"atomic", "mov %r2, 1\nlock add32 [%r1+4], %r2\nexit", []ctxAccess{{1, 4, 4, true, false}}},
	}
	helpers := vm.Helpers{1: {Name: "map_lookup_elem", Fn: func(*vm.Machine, uint64, uint64, uint64, uint64, uint64) (uint64, error) { return 0, nil }}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []ctxAccess
			opts := vm.Options{Helpers: helpers, CheckContext: func(pc int, off int32, size int, write, sx bool) error {
				got = append(got, ctxAccess{pc, off, size, write, sx})
				return nil
			}}
			_, err := vm.Prepare(vm.NewSpace(), "ctx", assemble(t, c.src), opts)
			require.NoError(t, err)
			assert.ElementsMatch(t, c.want, got)
		})
	}
}

func TestCheckContextRejects(t *testing.T) {
	opts := vm.Options{CheckContext: func(pc int, off int32, size int, write, sx bool) error {
		if write {
			return errors.New("field is read-only")
		}
		return nil
	}}
	_, err := vm.Prepare(vm.NewSpace(), "ctx", assemble(t, "ldxw %r0, [%r1+0]\nmov %r2, %r1\nstw [%r2+4], 1\nexit"), opts)
	var pe *vm.ProgramError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 2, pe.PC)
	assert.Contains(t, pe.Reason, "read-only")
}
