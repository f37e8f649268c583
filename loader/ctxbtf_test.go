package loader

import (
	"bytes"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
)

// TestContextBTFIsCurrent checks the embedded copy against the object built
// from testdata/loader/ctx_btf.c (itself checked against its source by
// internal/testobj).
func TestContextBTFIsCurrent(t *testing.T) {
	built, err := os.ReadFile(testobj.Path("loader", "ctx_btf.o"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(built, ctxBTF), "loader/ctx_btf.o is stale: run go generate ./loader")

	spec, err := ContextBTF()
	require.NoError(t, err)
	// Sizes of the 6.18 UAPI context structs (the layouts skmsg emulates).
	for name, size := range map[string]uint32{"__sk_buff": 192, "sk_msg_md": 80, "bpf_sock_ops": 224, "bpf_sock": 80} {
		var s *btf.Struct
		require.NoError(t, spec.TypeByName(name, &s), name)
		assert.Equal(t, size, s.Size, name)
	}
}

// TestPortableFixup checks the non-Linux fixup path against cilium/ebpf's
// own COREFixup.Apply on every relocation of the CO-RE test object.
func TestPortableFixup(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("loader", "core.o"))
	require.NoError(t, err)
	targets, err := coreTargets(nil)
	require.NoError(t, err)
	n := 0
	for _, ps := range spec.Programs {
		for i := range ps.Instructions {
			relo := btf.CORERelocationMetadata(&ps.Instructions[i])
			if relo == nil {
				continue
			}
			b, err := btf.NewBuilder(nil, nil)
			require.NoError(t, err)
			fixups, err := btf.CORERelocate([]*btf.CORERelocation{relo}, targets, ps.ByteOrder, b.Add)
			require.NoError(t, err)
			want, got := ps.Instructions[i], ps.Instructions[i]
			require.NoError(t, fixups[0].Apply(&want))
			require.NoError(t, applyFixupPortable(fixups[0].String(), &got))
			assert.Equal(t, want.OpCode, got.OpCode)
			assert.Equal(t, want.Offset, got.Offset, "%s", relo)
			assert.Equal(t, want.Constant, got.Constant, "%s", relo)
			n++
		}
	}
	assert.Greater(t, n, 5)
}
