package debugger

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeNow is a wall clock that moves only when told.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeNow) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// A minute at a breakpoint uses none of a timeout: only active time
// counts. The wall clock is fake, so the test takes no minute.
func TestPauseClockTimeoutCountsActiveTimeOnly(t *testing.T) {
	fake := &fakeNow{t: time.Unix(1000, 0)}
	c := NewPauseClock(fake.now)
	ctx, cancel := c.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()

	t0 := c.Now()
	fake.advance(10 * time.Millisecond) // 10ms active
	assert.Equal(t, 10*time.Millisecond, c.Now().Sub(t0))
	c.Pause()
	fake.advance(time.Minute) // the user looks for a minute
	assert.Equal(t, 10*time.Millisecond, c.Now().Sub(t0), "Now stands still while paused")
	assert.Equal(t, time.Minute, c.Paused())
	// However long the real timer waits meanwhile, the context lives.
	assert.Never(t, func() bool { return ctx.Err() != nil }, 100*time.Millisecond, 5*time.Millisecond,
		"a paused clock must not time out")
	c.Resume()
	assert.Equal(t, time.Minute, c.Paused())
	fake.advance(15 * time.Millisecond) // 25ms active: still alive
	assert.Equal(t, 25*time.Millisecond, c.Now().Sub(t0))
	assert.Never(t, func() bool { return ctx.Err() != nil }, 80*time.Millisecond, 5*time.Millisecond,
		"25ms of 30ms active used")
	fake.advance(10 * time.Millisecond) // 35ms active: over
	require.Eventually(t, func() bool { return ctx.Err() != nil }, 5*time.Second, time.Millisecond,
		"35ms of active time must end a 30ms timeout")
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
}

// With the real clock: a pause longer than the timeout does not end it.
func TestPauseClockRealTime(t *testing.T) {
	c := NewPauseClock(nil)
	c.Pause()
	ctx, cancel := c.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.Never(t, func() bool { return ctx.Err() != nil }, 100*time.Millisecond, 5*time.Millisecond)
	c.Resume()
	require.Eventually(t, func() bool { return ctx.Err() != nil }, 5*time.Second, time.Millisecond)
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)

	// cancel and the parent end it too, as context.Canceled.
	ctx2, cancel2 := c.WithTimeout(context.Background(), time.Hour)
	cancel2()
	assert.ErrorIs(t, ctx2.Err(), context.Canceled)
	parent, pcancel := context.WithCancel(context.Background())
	ctx3, cancel3 := c.WithTimeout(parent, time.Hour)
	defer cancel3()
	pcancel()
	<-ctx3.Done()
	assert.ErrorIs(t, ctx3.Err(), context.Canceled)
}

// An engine stop pauses its clock until the resume.
func TestStopPausesClock(t *testing.T) {
	fx := newFixture(t)
	ev := newEvents()
	e := New(Config{Notify: ev.notify})
	e.Pause()
	done := fx.run(e, 3)
	ev.stopped(t)
	ctx, cancel := e.Clock().WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	assert.Never(t, func() bool { return ctx.Err() != nil }, 60*time.Millisecond, 5*time.Millisecond)
	require.NoError(t, e.Continue())
	waitDone(t, done)
	require.Eventually(t, func() bool { return ctx.Err() != nil }, 5*time.Second, time.Millisecond)
}
