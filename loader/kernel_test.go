package loader_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

// TestKernelAcceptsPrograms hands the loader's programs (CO-RE resolved
// against the shipped context BTF, types from section names and overrides)
// to the running kernel's verifier, which checks every context offset.
// Skips where loading BPF is not permitted.
func TestKernelAcceptsPrograms(t *testing.T) {
	requireBPF(t)
	tests := []struct {
		obj  string
		opts []loader.Option
	}{
		{"core.o", nil},
		{"core_guarded.o", nil},
		{"maps.o", nil},
		{"globals.o", nil},
		{"legacy_sections.o", nil},
		{"iproute2.o", nil},
		{"mixed.o", nil},
		{"unknown_section.o", []loader.Option{loader.WithProgramType("custom_verdict", ebpf.SkMsg, ebpf.AttachSkMsgVerdict)}},
	}
	for _, tt := range tests {
		t.Run(tt.obj, func(t *testing.T) {
			obj, err := loader.Open(testobj.Path("loader", tt.obj), tt.opts...)
			require.NoError(t, err)
			spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{}}
			for name, m := range obj.Maps {
				ms := m.Spec.Copy()
				// iproute2's tail and pinning are for iproute2's loader.
				ms.Extra, ms.Pinning = nil, ebpf.PinNone
				if m.InnerMap != nil && ms.InnerMap == nil {
					ms.InnerMap = m.InnerMap.Spec.Copy()
					ms.InnerMap.Extra = nil
				}
				spec.Maps[name] = ms
			}
			for name, p := range obj.Programs {
				spec.Programs[name] = p.Spec
			}
			coll, err := ebpf.NewCollection(spec)
			var ve *ebpf.VerifierError
			if errors.As(err, &ve) {
				t.Fatalf("verifier rejected %s: %+v", tt.obj, ve)
			}
			if errors.Is(err, errno.EPERM) {
				t.Skipf("cannot load BPF here: %v", err)
			}
			require.NoError(t, err)
			coll.Close()
		})
	}
}

// TestKernelRejectsUnrelocated is the control for TestKernelAcceptsPrograms:
// the CO-RE object with its relocations dropped unapplied reads sk_msg_md
// at the flavor's wrong offsets, and the verifier must say so.
func TestKernelRejectsUnrelocated(t *testing.T) {
	requireBPF(t)
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("loader", "core.o"))
	require.NoError(t, err)
	ps := spec.Programs["core_msg"]
	for i := range ps.Instructions {
		ps.Instructions[i] = btf.WithCORERelocationMetadata(ps.Instructions[i], nil)
	}
	coll, err := ebpf.NewCollection(&ebpf.CollectionSpec{Maps: spec.Maps, Programs: map[string]*ebpf.ProgramSpec{"core_msg": ps}})
	if err == nil {
		coll.Close()
	}
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) && errors.Is(err, errno.EPERM) {
		t.Skipf("cannot load BPF here: %v", err)
	}
	require.ErrorAs(t, err, &ve)
	require.Contains(t, ve.Error(), "invalid bpf_context access off=4")
}

func requireBPF(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the kernel verifier is only available on Linux")
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Skipf("cannot load BPF here: %v", err)
	}
}
