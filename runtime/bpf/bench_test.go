package bpf

import (
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

// Lookups of a 4-byte key in a hash map, against a Go map under a
// RWMutex as the baseline.
func BenchmarkHashLookup(b *testing.B) {
	b.Run("baseline-gomap", func(b *testing.B) {
		var mu sync.RWMutex
		gm := map[string][]byte{}
		for i := uint32(0); i < 1024; i++ {
			gm[string(u32(i))] = make([]byte, 8)
		}
		k := u32(77)
		b.ReportAllocs()
		for b.Loop() {
			mu.RLock()
			_ = gm[string(k)]
			mu.RUnlock()
		}
	})
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.Array} {
		b.Run(typ.String(), func(b *testing.B) {
			m, err := New(Spec{Name: "b", Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 1024}, Options{})
			require.NoError(b, err)
			for i := uint32(0); i < 1024; i++ {
				require.NoError(b, m.UpdateBytes(u32(i), u64(0), UpdateAny))
			}
			e := m.(elemOps)
			k := u32(77)
			b.ReportAllocs()
			for b.Loop() {
				if _, errno := e.progLookup(k, 0); errno != 0 {
					b.Fatal(errno)
				}
			}
		})
	}
}

// A program counting in a map value through bpf_map_lookup_elem, against
// the same program counting on its stack (no helper call) as baseline.
func BenchmarkProgramCounter(b *testing.B) {
	for _, tc := range []struct {
		name   string
		typ    ebpf.MapType
		helper bool
	}{{"baseline-stack", ebpf.Array, false}, {"array", ebpf.Array, true}, {"hash", ebpf.Hash, true}} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := New(Spec{Name: "ctr", Type: tc.typ, KeySize: 4, ValueSize: 8, MaxEntries: 4}, Options{})
			require.NoError(b, err)
			require.NoError(b, m.UpdateBytes(u32(0), u64(0), UpdateAny))
			reg := NewRegistry()
			h, err := reg.Add(m)
			require.NoError(b, err)
			hs, _ := BaseHelpers(Env{Registry: reg})
			insns := asm.Instructions{
				asm.StoreImm(asm.RFP, -4, 0, asm.Word),
				asm.Mov.Imm(asm.R1, 0),
				asm.StoreMem(asm.RFP, -16, asm.R1, asm.DWord),
			}
			if tc.helper {
				insns = append(insns,
					asm.LoadMapPtr(asm.R1, 1),
					asm.Mov.Reg(asm.R2, asm.RFP),
					asm.Add.Imm(asm.R2, -4),
					asm.FnMapLookupElem.Call(),
					asm.JEq.Imm(asm.R0, 0, "out"),
				)
			} else {
				insns = append(insns,
					asm.Mov.Reg(asm.R0, asm.RFP),
					asm.Add.Imm(asm.R0, -16),
					asm.Mov.Reg(asm.R2, asm.RFP),
					asm.Add.Imm(asm.R2, -4),
					asm.Mov.Imm(asm.R1, 0),
				)
			}
			insns = append(insns,
				asm.Mov.Imm(asm.R1, 1),
				asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
				asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
				asm.Return(),
			)
			space := vm.NewSpace()
			p, err := vm.Prepare(space, "ctr", insns, vm.Options{Helpers: hs, ResolveImm64: func(int, asm.Instruction) (uint64, error) { return h, nil }})
			require.NoError(b, err)
			mach := space.NewMachine()
			b.ReportAllocs()
			for b.Loop() {
				mach.Reset()
				if _, err := mach.Run(p, 0); err != nil {
					b.Fatal(err)
				}
			}
			if tc.helper {
				var n uint64
				require.NoError(b, m.Lookup(uint32(0), &n))
				require.NotZero(b, n)
			}
		})
	}
}
