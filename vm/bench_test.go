package vm_test

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/vm"
)

// The benchmark programs are C in testdata/bench; native* are the same
// algorithms in Go, for the slowdown ratio.

func nativeALULoop(seed uint64) uint64 {
	h := seed
	for i := uint64(0); i < 1000; i++ {
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= h >> 29
		h += i
	}
	return h
}

func nativeChecksum(p []byte) uint64 {
	a, b := uint32(1), uint32(0)
	for i := 0; i < 1500; i++ {
		if i+1 > len(p) {
			break
		}
		a += uint32(p[i])
		b += a
	}
	return uint64(b%65521)<<16 | uint64(a%65521)
}

//go:noinline
func nativeMix(x, y uint64) uint64 { return (x^y)*31 + x>>3 }

func nativeCalls(seed uint64) uint64 {
	acc := seed
	for i := uint64(0); i < 100; i++ {
		acc = nativeMix(acc, i)
	}
	return acc
}

const benchSeed = 0x0123456789abcdef

func benchPacket() []byte {
	p := make([]byte, 1500)
	x := uint32(1)
	for i := range p {
		x = x*1103515245 + 12345
		p[i] = byte(x >> 16)
	}
	return p
}

type benchCase struct {
	name   string
	obj    string
	native func() uint64
}

var benchCases = func() []benchCase {
	pkt := benchPacket()
	return []benchCase{
		{"alu_loop", "alu_loop.o", func() uint64 { return nativeALULoop(benchSeed) }},
		{"checksum", "checksum.o", func() uint64 { return nativeChecksum(pkt) }},
		{"calls", "calls.o", func() uint64 { return nativeCalls(benchSeed) }},
	}
}()

// benchSetup loads the program of c and a machine with its context.
func benchSetup(tb testing.TB, c benchCase) (*vm.Machine, *vm.Program, uint64) {
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("bench", c.obj))
	require.NoError(tb, err)
	ps := spec.Programs[c.name]
	require.NotNil(tb, ps, "no program %s in %s", c.name, c.obj)
	space := vm.NewSpace()
	p, err := vm.Prepare(space, c.name, ps.Instructions, vm.Options{})
	require.NoError(tb, err)
	m := space.NewMachine()
	pkt := m.AddRegion(vm.Region{Name: "packet", Data: benchPacket(), Perm: vm.PermRead})
	ctx := make([]byte, 24)
	binary.LittleEndian.PutUint64(ctx[0:], benchSeed)
	binary.LittleEndian.PutUint64(ctx[8:], pkt)
	binary.LittleEndian.PutUint64(ctx[16:], pkt+1500)
	ctxAddr := m.AddRegion(vm.Region{Name: "ctx", Data: ctx, Perm: vm.PermRead})
	return m, p, ctxAddr
}

// TestBenchPrograms checks the benchmarks compute what their Go twins do.
func TestBenchPrograms(t *testing.T) {
	for _, c := range benchCases {
		t.Run(c.name, func(t *testing.T) {
			m, p, ctx := benchSetup(t, c)
			r0, err := m.Run(p, ctx)
			require.NoError(t, err)
			require.Equal(t, c.native(), r0)
			require.NotZero(t, m.Executed())
		})
	}
}

var sink uint64

// cpuClock measures the CPU time of the calling goroutine's thread.
type cpuClock struct{ start int64 }

func threadCPU() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func startCPUClock() cpuClock {
	runtime.LockOSThread()
	return cpuClock{threadCPU()}
}

func (c cpuClock) elapsed() float64 {
	defer runtime.UnlockOSThread()
	return float64(threadCPU() - c.start)
}

// nativeCPUNsPerOp times f for a short while outside the benchmark timer,
// in CPU time of the thread (see cpuClock).
func nativeCPUNsPerOp(f func() uint64) float64 {
	n := 0
	start := time.Now()
	cpu := startCPUClock()
	for time.Since(start) < 20*time.Millisecond {
		for i := 0; i < 100; i++ {
			sink += f()
		}
		n += 100
	}
	return cpu.elapsed() / float64(n)
}

func BenchmarkVM(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			m, p, ctx := benchSetup(b, c)
			want := c.native()
			b.ReportAllocs()
			runs := 0
			cpu := startCPUClock()
			for b.Loop() {
				r0, err := m.Run(p, ctx)
				if err != nil || r0 != want {
					b.Fatalf("r0 %#x, err %v", r0, err)
				}
				runs++
			}
			cpuPerRun := cpu.elapsed() / float64(runs)
			perRun := float64(b.Elapsed().Nanoseconds()) / float64(runs)
			b.ReportMetric(perRun/float64(m.Executed()), "ns/insn")
			// The same in CPU time of the benchmark's thread, which other
			// load on the machine disturbs much less than wall time; the
			// slowdown against Go is taken in CPU time for the same reason.
			b.ReportMetric(cpuPerRun/float64(m.Executed()), "cpu-ns/insn")
			b.ReportMetric(cpuPerRun/nativeCPUNsPerOp(c.native), "x-native")
		})
	}
	b.Run("fixed_cost", func(b *testing.B) {
		space := vm.NewSpace()
		p := prepare(b, space, "mov %r0, 1\nexit", vm.Options{})
		m := space.NewMachine()
		b.ReportAllocs()
		runs := 0
		cpu := startCPUClock()
		for b.Loop() {
			if _, err := m.Run(p, 0); err != nil {
				b.Fatal(err)
			}
			runs++
		}
		b.ReportMetric(cpu.elapsed()/float64(runs), "cpu-ns/op")
	})
}

func BenchmarkNative(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				sink += c.native()
			}
		})
	}
}
