package netstack

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// VirtualClock is the default clock of a Network: a tcpip.Clock whose time
// is counted in frames, not read from the wall, so that initial sequence
// numbers, TCP timestamps, round-trip samples and capture timestamps are
// the same in every run that puts the same frames on the link in the same
// order.
//
// Time moves in two ways:
//
//   - Every frame put on the link moves it forward by FrameTime (1µs).
//   - A timer that fires moves it to the timer's deadline (the virtual
//     time it was armed at plus its duration) when its callback puts a
//     frame on the link; the callback itself reads the clock as at least
//     the deadline.
//
// A timer fires once the link has been silent, while something waited for
// the network (a blocking socket call, or WaitIdle while the network is
// busy), for its whole duration of real time. A retransmission, probe or
// cork timer so keeps its real pacing
// where only it can move a connection along, but does not fire in the
// middle of traffic the way a wall clock would make it (with time counted
// in frames, a timer restarted by every ACK would otherwise look expired),
// nor while the application is busy between two calls (on a loaded machine
// that would make a run's segments depend on how long its steps took). So
// that nothing waits for good (a flow stalled beside a busy one, an
// application that polls), a timer also fires once four times its
// duration plus a second of real time have passed since it was armed.
//
// A timer whose callback puts no frame on the link (gVisor stops its TCP
// timers lazily, so many fire with nothing left to do) leaves the clock
// where it was: whether such a timer fired before the run moved on does
// not change the run. Only the callback's own goroutine sees the deadline
// while it runs, so no other reading can get ahead of the clock (a TCP
// timestamp taken there and echoed later would make a negative round
// trip).
//
// Safe for concurrent use.
type VirtualClock struct {
	// now is the virtual monotonic time (a time.Duration); reading it
	// takes no lock unless a fired timer's callback runs.
	now atomic.Int64
	// activity counts frames put on the link and delayed frames
	// delivered.
	activity atomic.Uint64
	// nfloors is len(floors), read without mu.
	nfloors atomic.Int32

	mu sync.Mutex
	// floors are the deadlines of fired timers whose callbacks are
	// running, by the callback's goroutine: that goroutine reads the
	// clock as at least its timer's deadline, and a frame it puts on the
	// link moves the clock there first. Other goroutines do not see a
	// deadline that nothing may ever come of.
	floors map[uint64]time.Duration

	// waiters counts the waits for the network in progress; waitTotal is
	// the real time spent with at least one (up to waitSince while one
	// is in progress), and lastFrame is waitTotal's reading when the
	// clock last saw activity move (seen: activity's value then): a
	// timer fires when the difference reaches its duration. Frames do
	// not take mu; a frame is noticed at the next wait or timer check,
	// which can only make the silence look shorter.
	waiters   int
	waitSince time.Time
	waitTotal time.Duration
	lastFrame time.Duration
	seen      uint64
}

// FrameTime is how far a VirtualClock moves per frame on the link.
const FrameTime = time.Microsecond

// Virtual time starts at one second, not zero: gVisor takes a zero
// MonotonicTime to mean "not measured yet".
const virtualStart = time.Second

// virtualEpoch is the wall time the virtual clock's start reads as (Now):
// fixed, so that pcap timestamps are the same in every run.
var virtualEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// NewVirtualClock returns a clock standing at its start.
func NewVirtualClock() *VirtualClock {
	c := &VirtualClock{floors: map[uint64]time.Duration{}}
	c.now.Store(int64(virtualStart))
	return c
}

// Since returns how far the clock has moved since its start.
func (c *VirtualClock) Since() time.Duration { return c.read() - virtualStart }

// Now implements tcpip.Clock: 2000-01-01 00:00:00 UTC at the clock's
// start, plus how far it has moved.
func (c *VirtualClock) Now() time.Time { return virtualEpoch.Add(c.Since()) }

// NowMonotonic implements tcpip.Clock.
func (c *VirtualClock) NowMonotonic() tcpip.MonotonicTime {
	return tcpip.MonotonicTime{}.Add(c.read())
}

// Advance moves the clock forward by d (a test's way to let time pass);
// it fires no timer.
func (c *VirtualClock) Advance(d time.Duration) {
	if d > 0 {
		c.now.Add(int64(d))
	}
}

func (c *VirtualClock) read() time.Duration {
	if c.nfloors.Load() == 0 {
		return time.Duration(c.now.Load())
	}
	now := time.Duration(c.now.Load())
	if f, ok := c.floor(); ok && f > now {
		return f
	}
	return now
}

// floor returns the deadline of the timer whose callback the calling
// goroutine runs, if it runs one.
func (c *VirtualClock) floor() (time.Duration, bool) {
	id := goid()
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.floors[id]
	return f, ok
}

// goid is the calling goroutine's id, as its stack trace's header gives it
// ("goroutine 17 [running]:"). Only read while a timer callback runs.
func goid() uint64 {
	var buf [32]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = b[len("goroutine "):]
	var id uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			break
		}
		id = id*10 + uint64(ch-'0')
	}
	return id
}

// raiseTo moves the clock to t unless it is past it.
func (c *VirtualClock) raiseTo(t time.Duration) {
	for {
		cur := c.now.Load()
		if cur >= int64(t) || c.now.CompareAndSwap(cur, int64(t)) {
			return
		}
	}
}

// frame counts one frame put on the link and returns the frame's time (as
// Now reads it), which its capture records: taken with the count, so two
// frames sent at once cannot swap their times.
func (c *VirtualClock) frame() time.Time {
	if c.nfloors.Load() != 0 {
		if f, ok := c.floor(); ok {
			c.raiseTo(f) // a timer's callback sends: its deadline has come
		}
	}
	now := c.now.Add(int64(FrameTime))
	c.activity.Add(1)
	return virtualEpoch.Add(time.Duration(now) - virtualStart)
}

// delivered notes a frame delivered after a delay, which holds back timers
// waiting for silence as a new frame does.
func (c *VirtualClock) delivered() { c.activity.Add(1) }

// wait marks the start of a wait for the network; the function it returns
// marks its end.
func (c *VirtualClock) wait() func() {
	c.mu.Lock()
	c.noticeLocked()
	if c.waiters == 0 {
		c.waitSince = time.Now()
	}
	c.waiters++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.noticeLocked()
		c.waiters--
		if c.waiters == 0 {
			c.waitTotal += time.Since(c.waitSince)
		}
		c.mu.Unlock()
	}
}

// noticeLocked restarts the silence if the link carried something since
// the last look.
func (c *VirtualClock) noticeLocked() {
	if a := c.activity.Load(); a != c.seen {
		c.seen = a
		c.lastFrame = c.waitedLocked()
	}
}

// waitedLocked is the real time spent waiting for the network so far.
func (c *VirtualClock) waitedLocked() time.Duration {
	if c.waiters == 0 {
		return c.waitTotal
	}
	return c.waitTotal + time.Since(c.waitSince)
}

// silence is how long the link has been silent while something waited.
func (c *VirtualClock) silence() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noticeLocked()
	return c.waitedLocked() - c.lastFrame
}

// AfterFunc implements tcpip.Clock: f runs on its own goroutine once the
// link has been silent for d of real time spent waiting (see
// VirtualClock), with the clock at least at now+d for the readings f
// makes.
func (c *VirtualClock) AfterFunc(d time.Duration, f func()) tcpip.Timer {
	t := &virtualTimer{c: c, f: f}
	t.mu.Lock()
	t.armLocked(d)
	t.mu.Unlock()
	return t
}

// virtualTimer is a tcpip.Timer of a VirtualClock. Each arming has its own
// generation, so a wall timer left over from an earlier arming does
// nothing.
type virtualTimer struct {
	c *VirtualClock
	f func()

	mu       sync.Mutex
	gen      uint64
	armed    bool
	d        time.Duration
	deadline time.Duration // virtual
	armedAt  time.Time
	wall     *time.Timer
}

// busyCap is how long past four times its duration a timer waits for a
// silent link before it fires anyway.
const busyCap = time.Second

func (t *virtualTimer) armLocked(d time.Duration) {
	d = max(d, 0)
	t.gen++
	t.armed = true
	t.d = d
	t.deadline = t.c.read() + d
	t.armedAt = time.Now()
	gen := t.gen
	t.wall = time.AfterFunc(d, func() { t.expire(gen) })
}

// expire runs when an arming's wall timer goes off: it fires the timer if
// the link has been silent long enough (or the cap has passed), and
// otherwise checks again once the rest of the silence could have passed.
func (t *virtualTimer) expire(gen uint64) {
	t.mu.Lock()
	if !t.armed || t.gen != gen {
		t.mu.Unlock()
		return
	}
	c := t.c
	silent := c.silence()
	left := time.Until(t.armedAt.Add(4*t.d + busyCap))
	if silent < t.d && left > 0 {
		t.wall = time.AfterFunc(min(t.d-silent, left), func() { t.expire(gen) })
		t.mu.Unlock()
		return
	}
	t.armed = false
	deadline := t.deadline
	t.mu.Unlock()

	id := goid()
	c.mu.Lock()
	c.floors[id] = deadline
	c.nfloors.Store(int32(len(c.floors)))
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.floors, id)
		c.nfloors.Store(int32(len(c.floors)))
		c.mu.Unlock()
	}()
	t.f()
}

// Stop implements tcpip.Timer.
func (t *virtualTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.armed
	t.armed = false
	t.wall.Stop()
	return was
}

// Reset implements tcpip.Timer.
func (t *virtualTimer) Reset(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.wall.Stop()
	t.armLocked(d)
}

var _ tcpip.Clock = (*VirtualClock)(nil)
