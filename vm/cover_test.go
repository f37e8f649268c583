package vm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
)

// coverLog records every Cover call.
type coverLog struct{ calls [][2]int }

func (c *coverLog) Cover(p *vm.Program, pc, next int) { c.calls = append(c.calls, [2]int{pc, next}) }

func TestCoverage(t *testing.T) {
	// r1 picks the branch: the jump at slot 1 falls through to 2 or jumps to 4.
	const src = `
mov %r0, 0
jeq %r1, 0, +2
mov %r0, 1
exit
mov %r0, 2
exit`
	for _, tc := range []struct {
		name   string
		arg    uint64
		tracer bool
		want   [][2]int
		r0     uint64
	}{
		{"fall through", 1, false, [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 6}}, 1},
		{"jump", 0, false, [][2]int{{0, 1}, {1, 4}, {4, 5}, {5, 6}}, 2},
		{"with a tracer", 0, true, [][2]int{{0, 1}, {1, 4}, {4, 5}, {5, 6}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			space := vm.NewSpace()
			p := prepare(t, space, src, vm.Options{})
			m := space.NewMachine()
			c := &coverLog{}
			m.SetCoverage(c)
			rec := &recorder{}
			if tc.tracer {
				m.SetTracer(rec)
			}
			r0, err := m.Run(p, tc.arg)
			require.NoError(t, err)
			assert.Equal(t, tc.r0, r0)
			// The exit's next slot is past the function: meaningless,
			// but it must not look like a slot of a jump target.
			got := c.calls
			require.Len(t, got, len(tc.want))
			for i := range tc.want[:len(tc.want)-1] {
				assert.Equal(t, tc.want[i], got[i], "call %d", i)
			}
			if tc.tracer {
				assert.Len(t, rec.steps, len(tc.want), "the tracer still sees every step")
			}
			assert.Equal(t, uint64(len(tc.want)), m.Executed())

			// Cleared, the machine runs the fast loop again and reports nothing.
			m.SetCoverage(nil)
			m.SetTracer(nil)
			c.calls = nil
			_, err = m.Run(p, tc.arg)
			require.NoError(t, err)
			assert.Empty(t, c.calls)
		})
	}
}

// TestCoverageCallback: instructions of a callback run by a helper are
// reported too, and the budget still ends a covered run.
func TestCoverageCallback(t *testing.T) {
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "loop", loopProg(sumCB), vm.Options{Helpers: loopHelpers()})
	require.NoError(t, err)
	m := space.NewMachine()
	c := &coverLog{}
	m.SetCoverage(c)
	_, err = m.Run(p, 5)
	require.NoError(t, err)
	seen := map[int]int{}
	for _, call := range c.calls {
		seen[call[0]]++
	}
	cb := len(loopProg(nil)) + 1 // slot of the callback (one LD_IMM64 in the caller)
	assert.Equal(t, 4, seen[cb], "the callback's first instruction ran once per round")
	assert.Equal(t, uint64(len(c.calls)), m.Executed())

	spin := prepare(t, space, "loop:\nja loop", vm.Options{Budget: 50})
	c.calls = nil
	_, err = m.Run(spin, 0)
	require.ErrorIs(t, err, vm.ErrBudget)
	assert.Len(t, c.calls, 50)
}
