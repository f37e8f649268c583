package vm_test

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
	"github.com/skmsg/skmsg/vm/internal/asmtext"
)

func assemble(t testing.TB, src string) asm.Instructions {
	t.Helper()
	insns, err := asmtext.Assemble(src)
	require.NoError(t, err)
	return insns
}

func prepare(t testing.TB, space *vm.Space, src string, opts vm.Options) *vm.Program {
	t.Helper()
	p, err := vm.Prepare(space, t.Name(), assemble(t, src), opts)
	require.NoError(t, err)
	return p
}

// run prepares src in a fresh space and runs it with r1 = arg.
func run(t testing.TB, src string, arg uint64) (uint64, error) {
	t.Helper()
	space := vm.NewSpace()
	p := prepare(t, space, src, vm.Options{})
	return space.NewMachine().Run(p, arg)
}

var nativeEndian = binary.LittleEndian
