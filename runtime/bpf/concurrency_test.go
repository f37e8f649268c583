package bpf

import (
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentUse hammers maps from several goroutines, as programs on
// different sockets do; run with -race to check the locking.
func TestConcurrentUse(t *testing.T) {
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.LPMTrie} {
		t.Run(typ.String(), func(t *testing.T) {
			s := Spec{Name: "c", Type: typ, KeySize: 8, ValueSize: 8, MaxEntries: 64}
			if typ == ebpf.LPMTrie {
				s.Flags = FlagNoPrealloc
			}
			m := mustNew(t, s, 4)
			e := m.(elemOps)
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := 0; i < 500; i++ {
						k := lpmKey(32, byte(i%40), byte(g), 0, 0)
						v := u64(uint64(i))
						_ = e.progUpdate(k, v, UpdateAny, g)
						if val, errno := e.progLookup(k, g); errno == 0 {
							_ = val[0]
						}
						next := make([]byte, 8)
						_ = m.NextKeyBytes(k, next)
						if i%3 == 0 {
							_ = e.progDelete(k)
						}
					}
				}(g)
			}
			wg.Wait()
			n := 0
			var k [8]byte
			var v []byte
			it := m.Iterate()
			for it.Next(&k, &v) {
				n++
			}
			require.NoError(t, it.Err())
			assert.LessOrEqual(t, n, 64)
		})
	}
	t.Run("queue", func(t *testing.T) {
		q := mustNew(t, Spec{Name: "q", Type: ebpf.Queue, ValueSize: 4, MaxEntries: 1000}, 1).(Queue)
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 250; i++ {
					assert.NoError(t, q.Push(u32(uint32(i)), 0))
				}
			}()
		}
		wg.Wait()
		n := 0
		out := make([]byte, 4)
		for q.Pop(out) == nil {
			n++
		}
		assert.Equal(t, 1000, n)
	})
	t.Run("registry", func(t *testing.T) {
		r := NewRegistry()
		ms := make([]Map, 16)
		for i := range ms {
			ms[i] = mustNew(t, Spec{Name: "r", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}, 1)
		}
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, m := range ms {
					h, err := r.Add(m)
					assert.NoError(t, err)
					got, ok := r.Map(h)
					assert.True(t, ok)
					assert.Same(t, m, got)
				}
			}()
		}
		wg.Wait()
	})
}
