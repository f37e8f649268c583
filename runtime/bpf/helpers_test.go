package bpf

import (
	"encoding/binary"
	"testing"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

func TestHelpersOnObject(t *testing.T) {
	cpu := 1
	clock := &FakeClock{Start: 5000, Step: 100}
	c := loadObject(t, "helpers.o", Env{Clock: clock, CPU: func(*vm.Machine) int { return cpu }})
	m := c.space.NewMachine()

	for want := int64(1); want <= 3; want++ {
		assert.Equal(t, want, c.run(t, m, "count"))
	}
	var n uint64
	require.NoError(t, c.maps["counters"].Lookup(uint32(0), &n))
	assert.Equal(t, uint64(3), n, "the program incremented the live array value")
	var t1 uint64
	require.NoError(t, c.maps["seen"].Lookup(uint32(1), &t1))
	assert.Equal(t, uint64(5100), t1, "first clock reading")
	var per []uint64
	require.NoError(t, c.maps["percpu"].Lookup(uint32(0), &per))
	assert.Equal(t, []uint64{0, 30}, per, "per-CPU value of CPU 1 only")

	recs := c.maps["events"].(*RingBuf).Records()
	require.Len(t, recs, 3)
	assert.Equal(t, uint32(2), binary.NativeEndian.Uint32(recs[1][0:]))
	assert.Equal(t, uint32(1), binary.NativeEndian.Uint32(recs[1][4:]))

	// The queue holds two: the third push failed and printed it.
	assert.Equal(t, []string{"count 1 cpu 1 t=13ec", "count 2 cpu 1 t=1450", "fifo full at 3", "count 3 cpu 1 t=14b4"}, c.printk)
	assert.Equal(t, int64(1), c.run(t, m, "pop"))
	assert.Equal(t, int64(2), c.run(t, m, "pop"))
	assert.Equal(t, -int64(errno.ENOENT), c.run(t, m, "pop"))

	var runs uint32
	bss, err := c.maps[".data"].LookupBytes(make([]byte, 4))
	require.NoError(t, err)
	runs = binary.NativeEndian.Uint32(bss)
	assert.Equal(t, uint32(10), runs, ".data runs = 7 + 3")
}

func TestTailCall(t *testing.T) {
	c := loadObject(t, "helpers.o", Env{})
	m := c.space.NewMachine()
	assert.Equal(t, int64(1), c.run(t, m, "jump"), "empty slot falls through")
	require.NoError(t, c.maps["jumps"].Update(uint32(0), c.progs["landed"], UpdateAny))
	assert.Equal(t, int64(42), c.run(t, m, "jump"))
	require.NoError(t, c.maps["jumps"].Delete(uint32(0)))
	assert.Equal(t, int64(1), c.run(t, m, "jump"))
}

func TestMapInMapAndLPM(t *testing.T) {
	c := loadObject(t, "helpers.o", Env{})
	m := c.space.NewMachine()
	require.NoError(t, c.maps["inner_a"].Put(uint32(0), uint32(77)))
	assert.Equal(t, int64(77), c.run(t, m, "nested"))
	require.NoError(t, c.maps["outer"].Delete(uint32(1)))
	assert.Equal(t, int64(-1), c.run(t, m, "nested"))

	assert.Equal(t, int64(0), c.run(t, m, "route"))
	require.NoError(t, c.maps["routes"].Put(lpmKey(8, 10, 0, 0, 0), uint32(8)))
	assert.Equal(t, int64(8), c.run(t, m, "route"))
	require.NoError(t, c.maps["routes"].Put(lpmKey(24, 10, 1, 2, 0), uint32(24)))
	require.NoError(t, c.maps["routes"].Put(lpmKey(24, 10, 1, 3, 0), uint32(99)))
	assert.Equal(t, int64(24), c.run(t, m, "route"))
}

func TestStrings(t *testing.T) {
	c := loadObject(t, "helpers.o", Env{})
	m := c.space.NewMachine()
	// strtol("  -1234") consumes 7 bytes; strncmp("hellp", "hello") = 1.
	assert.Equal(t, int64(107), c.run(t, m, "strings"))
	v, err := c.maps[".bss"].LookupBytes(make([]byte, 4))
	require.NoError(t, err)
	assert.Equal(t, int64(-1234), int64(binary.NativeEndian.Uint64(v)))
	// .rodata is frozen.
	assert.ErrorIs(t, c.maps[".rodata"].Put(uint32(0), make([]byte, c.maps[".rodata"].ValueSize())), errno.EPERM)
}
