package bpf

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/vm"
)

// collection is an object file's maps and programs on the vm, wired the
// way the runtime wires them: maps created from the ELF's specs, map
// references resolved through a Registry, global data mapped once.
type collection struct {
	maps    map[string]Map
	progs   map[string]*vm.Program
	reg     *Registry
	space   *vm.Space
	helpers *Helpers
	printk  []string
}

func loadObject(t *testing.T, file string, env Env) *collection {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("maps", file))
	require.NoError(t, err)
	c := &collection{maps: map[string]Map{}, progs: map[string]*vm.Program{}, reg: NewRegistry(), space: vm.NewSpace()}
	globals := map[string]uint64{}
	for name, ms := range spec.Maps {
		s, err := FromMapSpec(ms)
		require.NoError(t, err, name)
		m, err := New(s, Options{NumCPU: 2})
		require.NoError(t, err, name)
		c.maps[name] = m
		_, err = c.reg.Add(m)
		require.NoError(t, err)
		if r, err := ValueRegion(m); err == nil {
			globals[name] = c.space.AddGlobal(r)
		}
	}
	for name, ms := range spec.Maps {
		for _, kv := range ms.Contents {
			if inner, ok := kv.Value.(string); ok && c.maps[inner] != nil {
				require.NoError(t, c.maps[name].Put(kv.Key, c.maps[inner]))
			}
		}
	}
	env.Registry = c.reg
	if env.Printk == nil {
		env.Printk = func(_ *vm.Machine, s string) { c.printk = append(c.printk, s) }
	}
	var hs vm.Helpers
	hs, c.helpers = BaseHelpers(env)
	resolve := func(pc int, ins asm.Instruction) (uint64, error) {
		m := c.maps[ins.Reference()]
		if m == nil {
			return 0, fmt.Errorf("pc %d: unknown map %q", pc, ins.Reference())
		}
		switch ins.Src {
		case asm.PseudoMapFD:
			h, _ := c.reg.Handle(m)
			return h, nil
		case asm.PseudoMapValue:
			base, ok := globals[ins.Reference()]
			if !ok {
				return 0, fmt.Errorf("pc %d: map %s has no direct value access", pc, ins.Reference())
			}
			return base + uint64(uint64(ins.Constant)>>32), nil
		}
		return 0, fmt.Errorf("pc %d: unsupported LD_IMM64 form %v", pc, ins.Src)
	}
	for name, ps := range spec.Programs {
		p, err := vm.Prepare(c.space, name, ps.Instructions, vm.Options{Helpers: hs, ResolveImm64: resolve})
		require.NoError(t, err, name)
		c.progs[name] = p
	}
	return c
}

func (c *collection) run(t *testing.T, m *vm.Machine, prog string) int64 {
	t.Helper()
	m.Reset()
	ret, err := m.Run(c.progs[prog], 0)
	require.NoError(t, err, prog)
	return int64(int32(ret)) // the programs return int
}
