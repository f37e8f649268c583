package debugger

import (
	"encoding/binary"
	"testing"

	"github.com/skmsg/skmsg/vm"
)

// BenchmarkAttached measures what the debugger costs a program run with
// no breakpoint hit: every instruction goes through the traced loop and
// the engine's Before. "detached" is the same run without a tracer (the
// interpreter's fast loop), the baseline of the ratio.
func BenchmarkAttached(b *testing.B) {
	fx := newFixture(b)
	ctx := make([]byte, 80)
	binary.LittleEndian.PutUint32(ctx[68:], 1)
	for _, attached := range []bool{false, true} {
		name := "detached"
		if attached {
			name = "attached"
		}
		b.Run(name, func(b *testing.B) {
			m := fx.space.NewMachine()
			e := New(Config{})
			e.AddProgram(fx.prog)
			e.SetBreakpoints(BreakFunction, "", []BreakSpec{{Func: "add_size", Cond: "r1 == 12345"}})
			if attached {
				m.SetTracer(e)
			}
			b.ReportAllocs()
			for b.Loop() {
				m.Reset()
				addr := m.AddRegion(vm.Region{Name: "sk_msg_md", Data: ctx, Perm: vm.PermRead})
				if _, err := m.Run(fx.prog, addr); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(m.Executed()), "ns/insn")
		})
	}
}
