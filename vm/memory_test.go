package vm_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

func TestLoadsAndStores(t *testing.T) {
	data := []byte{0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0, 0, 0, 0, 0, 0, 0, 0}
	cases := []struct {
		name string
		src  string
		want uint64
	}{
		{"ldxb", "ldxb %r0, [%r1+1]\nexit", 0x82},
		{"ldxh", "ldxh %r0, [%r1+2]\nexit", 0x8483},
		{"ldxw", "ldxw %r0, [%r1+4]\nexit", 0x88878685},
		{"ldxdw", "ldxdw %r0, [%r1]\nexit", 0x8887868584838281},
		{"ldxsb", "ldxsb %r0, [%r1]\nexit", 0xffffffffffffff81},
		{"ldxsh", "ldxsh %r0, [%r1]\nexit", 0xffffffffffff8281},
		{"ldxsw", "ldxsw %r0, [%r1]\nexit", 0xffffffff84838281},
		{"ldx negative offset", "add %r1, 8\nldxb %r0, [%r1-8]\nexit", 0x81},
		{"stb", "stb [%r1+8], 0x1ff\nldxdw %r0, [%r1+8]\nexit", 0xff},
		{"sth", "sth [%r1+8], -1\nldxdw %r0, [%r1+8]\nexit", 0xffff},
		{"stw", "stw [%r1+8], -1\nldxdw %r0, [%r1+8]\nexit", 0xffffffff},
		{"stdw sign-extends", "stdw [%r1+8], -2\nldxdw %r0, [%r1+8]\nexit", 0xfffffffffffffffe},
		{"stxb", "mov %r2, 0x1234\nstxb [%r1+9], %r2\nldxdw %r0, [%r1+8]\nexit", 0x3400},
		{"stxh", "mov %r2, 0x123456\nstxh [%r1+10], %r2\nldxdw %r0, [%r1+8]\nexit", 0x34560000},
		{"stxw", "lddw %r2, 0x1122334455\nstxw [%r1+8], %r2\nldxdw %r0, [%r1+8]\nexit", 0x22334455},
		{"stxdw", "lddw %r2, 0x1122334455667788\nstxdw [%r1+8], %r2\nldxdw %r0, [%r1+8]\nexit", 0x1122334455667788},
		{"stack round trip", "mov %r2, 99\nstxdw [%r10-8], %r2\nldxdw %r0, [%r10-8]\nexit", 99},
		{"stack pointer arithmetic", "mov %r2, %r10\nadd %r2, -16\nstw [%r2+4], 7\nldxw %r0, [%r10-12]\nexit", 7},
		{"lock add", "stdw [%r1+8], 5\nmov %r2, 3\nlock add [%r1+8], %r2\nldxdw %r0, [%r1+8]\nexit", 8},
		{"lock fetch or32", "stw [%r1+8], 5\nmov %r2, 2\nlock fetch or32 [%r1+8], %r2\nldxw %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r2\nexit", 0x705},
		{"lock xchg", "stdw [%r1+8], 5\nmov %r2, 9\nlock xchg [%r1+8], %r2\nldxdw %r0, [%r1+8]\nlsh %r0, 8\nor %r0, %r2\nexit", 0x905},
		{"lock cmpxchg miss", "stdw [%r1+8], 5\nmov %r0, 4\nmov %r2, 9\nlock cmpxchg [%r1+8], %r2\nldxdw %r3, [%r1+8]\nlsh %r0, 8\nor %r0, %r3\nexit", 0x505},
		{"lock cmpxchg32 hit", "stw [%r1+8], 5\nlddw %r0, 0x100000005\nmov %r2, 9\nlock cmpxchg32 [%r1+8], %r2\nldxw %r3, [%r1+8]\nlsh %r0, 8\nor %r0, %r3\nexit", 0x509},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			space := vm.NewSpace()
			p := prepare(t, space, c.src, vm.Options{})
			m := space.NewMachine()
			buf := append([]byte(nil), data...)
			addr := m.AddRegion(vm.Region{Name: "buf", Data: buf, Perm: vm.PermRW})
			r0, err := m.Run(p, addr)
			require.NoError(t, err)
			require.Equal(t, c.want, r0, "r0 = %#x, want %#x", r0, c.want)
		})
	}
}

type ctxAccessor struct {
	fields map[uint32]uint64
	stores []string
}

func (a *ctxAccessor) Load(off uint32, size int) (uint64, error) {
	v, ok := a.fields[off]
	if !ok || size != 4 {
		return 0, fmt.Errorf("no %d-byte field at %d", size, off)
	}
	return v, nil
}

func (a *ctxAccessor) Store(off uint32, size int, v uint64) error {
	if off != 8 {
		return errors.New("read-only field")
	}
	a.stores = append(a.stores, fmt.Sprintf("%d/%d=%#x", off, size, v))
	return nil
}

func TestAccessorRegion(t *testing.T) {
	space := vm.NewSpace()
	m := space.NewMachine()
	pkt := make([]byte, 64)
	pktAddr := m.AddRegion(vm.Region{Name: "packet", Data: pkt, Perm: vm.PermRW})
	acc := &ctxAccessor{fields: map[uint32]uint64{0: pktAddr, 4: pktAddr + 64}}
	ctx := m.AddRegion(vm.Region{Name: "ctx", Access: acc, Size: 16, Perm: vm.PermRW})
	// A 4-byte load of data yields a full 64-bit pointer, as in __sk_buff.
	p := prepare(t, space, `
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r4, %r2
add %r4, 14
jgt %r4, %r3, out
stb [%r2+13], 0x77
stw [%r1+8], 42
mov %r0, %r3
sub %r0, %r2
exit
out:
mov %r0, 0
exit`, vm.Options{})
	r0, err := m.Run(p, ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(64), r0)
	require.Equal(t, byte(0x77), pkt[13])
	require.Equal(t, []string{"8/4=0x2a"}, acc.stores)

	// A refused access is a fault naming the region and wrapping the
	// accessor's error.
	p = prepare(t, space, "ldxdw %r0, [%r1+0]\nexit", vm.Options{})
	_, err = m.Run(p, ctx)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	assert.Equal(t, vm.FaultAccessor, f.Kind)
	assert.Equal(t, "ctx", f.Region)
	assert.Contains(t, err.Error(), "no 8-byte field at 0")
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name   string
		src    string
		kind   vm.FaultKind
		pc     int
		write  bool
		size   int
		region string
		msg    []string
	}{
		{"null deref", "mov %r1, 0\nldxw %r0, [%r1+0]\nexit", vm.FaultUnmapped, 1, false, 4, "", []string{"pc 1", "read of 4 bytes at 0x0", "unmapped"}},
		{"small integer", "mov %r1, 16\nstxdw [%r1+0], %r1\nexit", vm.FaultUnmapped, 1, true, 8, "", []string{"write of 8 bytes at 0x10"}},
		{"past region end", "ldxdw %r0, [%r1+12]\nexit", vm.FaultBounds, 0, false, 8, "ro", []string{"region ro", "offset 0xc", "out of bounds"}},
		{"before region start", "ldxb %r0, [%r1-1]\nexit", vm.FaultBounds, 0, false, 1, "", []string{"read of 1 bytes"}},
		{"write to read-only", "stb [%r1+0], 1\nexit", vm.FaultPermission, 0, true, 1, "ro", []string{"permission denied", "region ro"}},
		{"below the stack", "mov %r2, %r10\nadd %r2, -4096\nldxb %r0, [%r2-1]\nexit", vm.FaultUnmapped, 2, false, 1, "", []string{"pc 2"}},
		{"above the stack", "stdw [%r10+0], 1\nexit", vm.FaultBounds, 0, true, 8, "stack", []string{"region stack"}},
		{"misaligned atomic", "mov %r2, 1\nlock add [%r10-15], %r2\nexit", vm.FaultAlignment, 1, true, 8, "stack", []string{"misaligned"}},
		{"atomic on read-only", "mov %r2, 1\nlock add32 [%r1+0], %r2\nexit", vm.FaultPermission, 1, true, 4, "ro", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			space := vm.NewSpace()
			p := prepare(t, space, c.src, vm.Options{})
			m := space.NewMachine()
			addr := m.AddRegion(vm.Region{Name: "ro", Data: make([]byte, 16), Perm: vm.PermRead})
			_, err := m.Run(p, addr)
			var f *vm.Fault
			require.ErrorAs(t, err, &f)
			assert.Equal(t, c.kind, f.Kind)
			assert.Equal(t, c.pc, f.PC)
			assert.Equal(t, c.write, f.Write)
			assert.Equal(t, c.size, f.Size)
			if c.region != "" {
				assert.Equal(t, c.region, f.Region)
			}
			assert.Equal(t, p.Name, f.Program)
			assert.NotEmpty(t, f.Insn)
			for _, s := range c.msg {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestMachineBytes(t *testing.T) {
	space := vm.NewSpace()
	m := space.NewMachine()
	buf := []byte("hello, world")
	addr := m.AddRegion(vm.Region{Name: "ro", Data: buf, Perm: vm.PermRead})
	b, err := m.Bytes(addr+7, 5, vm.PermRead)
	require.NoError(t, err)
	require.Equal(t, "world", string(b))
	require.Equal(t, 5, cap(b), "a view must not reach past what was asked")

	_, err = m.Bytes(addr+7, 6, vm.PermRead)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultBounds, f.Kind)
	_, err = m.Bytes(addr, 1, vm.PermWrite)
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultPermission, f.Kind)
	ctx := m.AddRegion(vm.Region{Name: "ctx", Access: &ctxAccessor{}, Size: 8, Perm: vm.PermRW})
	_, err = m.Bytes(ctx, 4, vm.PermRead)
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultAccessor, f.Kind)

	// Reset drops per-run regions.
	m.Reset()
	_, err = m.Bytes(addr, 1, vm.PermRead)
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultUnmapped, f.Kind)
}

func TestGlobals(t *testing.T) {
	space := vm.NewSpace()
	rodata := []byte{1, 2, 3, 4}
	bss := make([]byte, 8)
	roAddr := space.AddGlobal(vm.Region{Name: ".rodata", Data: rodata, Perm: vm.PermRead})
	bssAddr := space.AddGlobal(vm.Region{Name: ".bss", Data: bss, Perm: vm.PermRW})
	require.NotEqual(t, roAddr, bssAddr)
	r, ok := space.Global(vm.RegionID(bssAddr >> vm.RegionShift))
	require.True(t, ok)
	require.Equal(t, ".bss", r.Name)

	// LD_IMM64 map-value pseudo loads resolve to global addresses once.
	src := fmt.Sprintf("lddw %%r2, %#x\nldxw %%r0, [%%r2+0]\nlddw %%r3, %#x\nstxw [%%r3+4], %%r0\nexit", roAddr, bssAddr)
	p := prepare(t, space, src, vm.Options{})
	for i := 0; i < 2; i++ {
		m := space.NewMachine()
		r0, err := m.Run(p, 0)
		require.NoError(t, err)
		require.Equal(t, uint64(0x04030201), r0)
	}
	require.Equal(t, uint32(0x04030201), binary.LittleEndian.Uint32(bss[4:]))
}

// Atomics on shared memory are atomic across machines running at once.
func TestAtomicsConcurrent(t *testing.T) {
	space := vm.NewSpace()
	counter := make([]byte, 16)
	addr := space.AddGlobal(vm.Region{Name: "counter", Data: counter, Perm: vm.PermRW})
	src := fmt.Sprintf(`
lddw %%r1, %#x
mov %%r6, 1000
loop:
mov %%r2, 1
lock add [%%r1+0], %%r2
mov %%r2, 1
lock add32 [%%r1+8], %%r2
sub %%r6, 1
jne %%r6, 0, loop
mov %%r0, 0
exit`, addr)
	p := prepare(t, space, src, vm.Options{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := space.NewMachine()
			for i := 0; i < 10; i++ {
				_, err := m.Run(p, 0)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, uint64(40000), binary.LittleEndian.Uint64(counter))
	require.Equal(t, uint32(40000), binary.LittleEndian.Uint32(counter[8:]))
}

func TestAddRegionDeduplicates(t *testing.T) {
	m := vm.NewSpace().NewMachine()
	value := make([]byte, 8)
	a := m.AddRegion(vm.Region{Name: "map_value(m)", Data: value, Perm: vm.PermRW})
	b := m.AddRegion(vm.Region{Name: "map_value(m)", Data: value, Perm: vm.PermRW})
	require.Equal(t, a, b, "the same memory gets the same address")
	c := m.AddRegion(vm.Region{Name: "map_value(m)", Data: value[:4], Perm: vm.PermRW})
	require.NotEqual(t, a, c)
	d := m.AddRegion(vm.Region{Name: "map_value(m)", Data: value, Perm: vm.PermRead})
	require.NotEqual(t, a, d)
	e := m.AddRegion(vm.Region{Name: "map_value(m)", Data: make([]byte, 8), Perm: vm.PermRW})
	require.NotEqual(t, a, e)
}
