package loader_test

import (
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/vm"
)

// TestProgramsPrepare checks that the vm accepts every loaded program as the
// loader hands it over: symbolic calls, map and global data references.
func TestProgramsPrepare(t *testing.T) {
	objs, err := testobj.Objects()
	require.NoError(t, err)
	helpers := vm.Helpers{}
	for id := asm.BuiltinFunc(1); id < 220; id++ {
		helpers[id] = vm.Helper{ID: id, Name: id.String(), Fn: func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) { return 0, nil }}
	}
	for _, path := range objs {
		if _, bad := expectedFailures[filepath.Base(path)]; bad {
			continue
		}
		obj, err := loader.Open(path)
		require.NoError(t, err)
		for _, p := range obj.ProgramList {
			if p.Unsupported != nil {
				continue // skmsg does not run it
			}
			_, err := vm.Prepare(vm.NewSpace(), p.Name, p.Instructions, vm.Options{
				Helpers: helpers,
				ResolveImm64: func(pc int, ins asm.Instruction) (uint64, error) {
					return vm.Addr(1, uint32(uint64(ins.Constant)>>32)), nil
				},
			})
			require.NoError(t, err, "%s: %s", filepath.Base(path), p.Name)
		}
	}
}
