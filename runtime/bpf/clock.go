package bpf

import "sync/atomic"

// Clock is the time source of the ktime helpers: monotonic nanoseconds.
type Clock interface {
	Now() uint64
}

// FakeClock is a deterministic monotonic clock: every reading advances it
// by Step nanoseconds (1µs when Step is 0), starting at Start. Safe for
// concurrent use; Advance moves it forward explicitly.
type FakeClock struct {
	Start uint64
	Step  uint64
	ticks atomic.Uint64
	extra atomic.Uint64
}

// Now returns the next reading.
func (c *FakeClock) Now() uint64 {
	step := c.Step
	if step == 0 {
		step = 1000
	}
	n := c.ticks.Add(1)
	return c.Start + n*step + c.extra.Load()
}

// Advance moves the clock forward by d nanoseconds.
func (c *FakeClock) Advance(d uint64) { c.extra.Add(d) }

// SourceClock reads another clock (Source, in nanoseconds: the network's
// virtual clock in a runtime) and keeps its own readings strictly
// increasing: each is at least Step nanoseconds (1µs when Step is 0) past
// the one before, because programs take the difference of two readings
// as a duration and the source may stand still between them. Safe for
// concurrent use.
type SourceClock struct {
	Source func() uint64
	Step   uint64
	last   atomic.Uint64
}

// Now returns the next reading.
func (c *SourceClock) Now() uint64 {
	step := c.Step
	if step == 0 {
		step = 1000
	}
	for {
		last := c.last.Load()
		v := max(c.Source(), last+step)
		if c.last.CompareAndSwap(last, v) {
			return v
		}
	}
}

// Rand is the source of bpf_get_prandom_u32.
type Rand interface {
	Uint32() uint32
}

// SeededRand is a deterministic, lock-free generator (splitmix64): the
// same seed gives the same sequence of values.
type SeededRand struct{ state atomic.Uint64 }

// NewSeededRand returns a generator starting from seed.
func NewSeededRand(seed uint64) *SeededRand {
	r := &SeededRand{}
	r.state.Store(seed)
	return r
}

// Uint32 returns the next value.
func (r *SeededRand) Uint32() uint32 {
	z := r.state.Add(0x9e3779b97f4a7c15)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return uint32((z ^ z>>31) >> 32)
}
