package debugger

import (
	"context"
	"sync"
	"time"
)

// PauseClock measures active time: wall time minus the time the debugger
// held the scenario stopped. The scenario's own timeouts (waiting for the
// network to go idle, for a handshake) are measured on it, so a user who
// looks at a breakpoint for a minute does not make a step time out: the
// scenario sees no time pass while it is stopped.
//
// The clock has nothing to do with the time BPF programs see
// (bpf_ktime_get_ns reads the network's virtual clock, which counts
// frames on the link and does not advance while nothing runs either).
type PauseClock struct {
	now func() time.Time

	mu      sync.Mutex
	paused  int // nested Pause calls
	since   time.Time
	total   time.Duration
	changed chan struct{} // closed and replaced on every Pause and Resume
}

// NewPauseClock returns a running clock; now is the wall clock source
// (nil: time.Now), replaceable so tests need not wait for real time.
func NewPauseClock(now func() time.Time) *PauseClock {
	if now == nil {
		now = time.Now
	}
	return &PauseClock{now: now, changed: make(chan struct{})}
}

// Pause stops the clock until the matching Resume.
func (c *PauseClock) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == 0 {
		c.since = c.now()
	}
	c.paused++
	c.signal()
}

// Resume ends a Pause.
func (c *PauseClock) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == 0 {
		return
	}
	c.paused--
	if c.paused == 0 {
		c.total += c.now().Sub(c.since)
	}
	c.signal()
}

func (c *PauseClock) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Now is the wall clock less the time the clock was paused: a deadline
// computed from it (Now().Add(d)) and waited for with WithTimeout or
// compared with a later Now passes after d of active time. It does not
// move while paused.
func (c *PauseClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused > 0 {
		return c.since.Add(-c.total)
	}
	return c.now().Add(-c.total)
}

// Paused is the total time the clock was stopped, the current pause
// included.
func (c *PauseClock) Paused() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pausedLocked()
}

func (c *PauseClock) pausedLocked() time.Duration {
	d := c.total
	if c.paused > 0 {
		d += c.now().Sub(c.since)
	}
	return d
}

// active returns the active time since start (a wall time) given the
// paused total then, whether the clock is paused now, and a channel closed
// at its next change.
func (c *PauseClock) active(start time.Time, pausedAtStart time.Duration) (time.Duration, bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now().Sub(start) - (c.pausedLocked() - pausedAtStart), c.paused > 0, c.changed
}

// WithTimeout is context.WithTimeout on active time: the context ends
// once d of active time has passed, its Err then being
// context.DeadlineExceeded, or when parent ends or cancel is called.
func (c *PauseClock) WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	inner, cancelCause := context.WithCancelCause(parent)
	ctx := activeCtx{inner}
	c.mu.Lock()
	start, pausedAtStart := c.now(), c.pausedLocked()
	c.mu.Unlock()
	go func() {
		t := time.NewTimer(d)
		defer t.Stop()
		for {
			used, paused, changed := c.active(start, pausedAtStart)
			if !paused && used >= d {
				cancelCause(context.DeadlineExceeded)
				return
			}
			var fire <-chan time.Time
			if !paused {
				t.Reset(d - used)
				fire = t.C
			}
			select {
			case <-inner.Done():
				return
			case <-changed:
			case <-fire:
			}
		}
	}()
	return ctx, func() { cancelCause(context.Canceled) }
}

// activeCtx reports the cause it was cancelled with as its error, so a
// timeout on active time reads as context.DeadlineExceeded.
type activeCtx struct{ context.Context }

func (c activeCtx) Err() error {
	if c.Context.Err() == nil {
		return nil
	}
	return context.Cause(c.Context)
}
