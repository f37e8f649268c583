package netstack

import (
	"fmt"
	"hash/fnv"
	"math/rand"
	"sort"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// Faults describe what the link does to frames travelling in one
// direction. Probabilities are in [0, 1]. Decisions come from a random
// source seeded by Options.Seed and the direction, so a run that sends the
// same frames makes the same decisions.
type Faults struct {
	Loss      float64       // probability a frame is dropped
	Duplicate float64       // probability a frame is delivered twice
	Reorder   float64       // probability a frame is held back and delivered after the next one
	Delay     time.Duration // fixed one-way delay added to every frame
	Jitter    time.Duration // extra delay, uniform in [0, Jitter)
	// ReorderTimeout bounds how long a held-back frame waits for a
	// successor; 0 means 1ms.
	ReorderTimeout time.Duration
}

func (f Faults) validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", f.Loss}, {"Duplicate", f.Duplicate}, {"Reorder", f.Reorder}} {
		if p.v < 0 || p.v > 1 || p.v != p.v {
			return fmt.Errorf("netstack: fault %s=%v is not a probability in [0,1]", p.name, p.v)
		}
	}
	if f.Delay < 0 || f.Jitter < 0 || f.ReorderTimeout < 0 {
		return fmt.Errorf("netstack: negative fault duration (delay %v, jitter %v, reorder timeout %v)", f.Delay, f.Jitter, f.ReorderTimeout)
	}
	return nil
}

func (f Faults) zero() bool { return f == Faults{} }

// SetFaults applies f to every direction between every pair of hosts
// (including a host talking to itself) that has no SetPathFaults rule.
// Faults{} turns them off. Frames already held keep their schedule.
func (n *Network) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	return n.link.updateFaults(func(t *faultTable) { t.def = f })
}

// SetPathFaults applies f to frames from the host owning from to the host
// owning to (one direction; call again with the addresses swapped for the
// other). Hosts are created if needed.
func (n *Network) SetPathFaults(from, to string, f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	a, err := parseEndpoint(from)
	if err != nil {
		return err
	}
	b, err := parseEndpoint(to)
	if err != nil {
		return err
	}
	ha, err := n.hostFor(a.Addr())
	if err != nil {
		return err
	}
	hb, err := n.hostFor(b.Addr())
	if err != nil {
		return err
	}
	return n.link.updateFaults(func(t *faultTable) { t.rules[pathKey{ha, hb}] = f })
}

type pathKey struct{ src, dst *Host }

// faultTable is replaced as a whole when rules change (copy on write), so
// the per-frame lookup takes no lock unless faults are configured.
type faultTable struct {
	link  *link
	def   Faults
	rules map[pathKey]Faults

	mu    sync.Mutex
	paths map[pathKey]*pathState
}

func (l *link) updateFaults(fn func(*faultTable)) error {
	l.fltMu.Lock()
	defer l.fltMu.Unlock()
	old := l.faults.Load()
	t := &faultTable{link: l, rules: make(map[pathKey]Faults), paths: make(map[pathKey]*pathState)}
	if old != nil {
		t.def = old.def
		for k, v := range old.rules {
			t.rules[k] = v
		}
		old.mu.Lock()
		for k, v := range old.paths {
			t.paths[k] = v // keep held frames and random streams
		}
		old.mu.Unlock()
	}
	fn(t)
	for k, p := range t.paths {
		p.mu.Lock()
		p.f = t.faultsFor(k)
		p.mu.Unlock()
	}
	if t.def.zero() && len(t.rules) == 0 && len(t.paths) == 0 {
		l.faults.Store(nil)
		return nil
	}
	l.faults.Store(t)
	return nil
}

func (t *faultTable) faultsFor(k pathKey) Faults {
	if f, ok := t.rules[k]; ok {
		return f
	}
	return t.def
}

// path returns the state for src->dst, or nil when that direction has no
// faults and nothing held.
func (t *faultTable) path(src, dst *Host) *pathState {
	k := pathKey{src, dst}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.paths[k]; p != nil {
		return p
	}
	f := t.faultsFor(k)
	if f.zero() {
		return nil
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d>%d", src.index, dst.index)
	p := &pathState{link: t.link, f: f, rng: rand.New(rand.NewSource(t.link.net.opts.Seed ^ int64(h.Sum64())))}
	t.paths[k] = p
	return p
}

func (t *faultTable) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.paths {
		p.stop()
	}
}

type frame struct {
	dst   *Host
	proto tcpip.NetworkProtocolNumber
	buf   buffer.Buffer
	due   time.Time
	seq   uint64
	tcp   bool    // a TCP frame of flow (sender's view)
	flow  flowKey // for the persist watch when it is lost
}

// pathState is one direction's fault state: its random stream, the frame
// held back for reordering and the delay queue.
type pathState struct {
	link *link

	mu         sync.Mutex
	f          Faults
	rng        *rand.Rand
	held       *frame
	heldTimer  *time.Timer
	queue      []frame // sorted by due, then seq
	queueTimer *time.Timer
	seq        uint64
	stopped    bool
}

func (p *pathState) handle(fr frame) {
	l := p.link
	var out [3]frame
	nout := 0
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		fr.buf.Release()
		return
	}
	d := p.decideLocked()
	if d.lose {
		p.mu.Unlock()
		l.stats.lost.Add(1)
		fr.buf.Release()
		if fr.tcp {
			l.watchLoss(fr.flow)
		}
		return
	}
	dup, reorder, delay := d.dup, d.reorder, d.delay
	copies := []frame{fr}
	if dup {
		l.stats.dup.Add(1)
		copies = append(copies, frame{dst: fr.dst, proto: fr.proto, buf: fr.buf.Clone()})
	}
	if delay > 0 || len(p.queue) > 0 {
		// Delayed path: reordering becomes an extra delay so the frame
		// lands after its successors.
		now := time.Now()
		for i := range copies {
			d := delay
			if reorder && i == 0 {
				l.stats.reordered.Add(1)
				d += p.reorderTimeout()
			}
			p.enqueueLocked(copies[i], now.Add(d))
		}
		p.mu.Unlock()
		return
	}
	if reorder && p.held == nil {
		l.stats.reordered.Add(1)
		h := copies[0]
		p.held = &h
		l.held.Add(1)
		p.heldTimer = time.AfterFunc(p.reorderTimeout(), p.flushHeld)
		copies = copies[1:]
		for _, c := range copies {
			out[nout] = c
			nout++
		}
	} else {
		for _, c := range copies {
			out[nout] = c
			nout++
		}
		if p.held != nil {
			out[nout] = *p.held
			nout++
			p.held = nil
			p.heldTimer.Stop()
			defer l.held.Add(-1) // counted as held until delivered below
		}
	}
	p.mu.Unlock()
	for i := 0; i < nout; i++ {
		l.deliver(out[i].dst, out[i].proto, out[i].buf)
	}
}

// decision is what the link does to one frame.
type decision struct {
	lose, dup, reorder bool
	delay              time.Duration
}

// decideLocked draws the fate of the next frame. It draws the same number
// of values whatever the outcome, so one frame's fate never shifts the
// random stream of the frames after it.
func (p *pathState) decideLocked() decision {
	f := p.f
	var d decision
	if f.Loss > 0 {
		d.lose = p.rng.Float64() < f.Loss
	}
	if f.Duplicate > 0 {
		d.dup = p.rng.Float64() < f.Duplicate
	}
	if f.Reorder > 0 {
		d.reorder = p.rng.Float64() < f.Reorder
	}
	d.delay = f.Delay
	if f.Jitter > 0 {
		d.delay += time.Duration(p.rng.Int63n(int64(f.Jitter)))
	}
	return d
}

func (p *pathState) reorderTimeout() time.Duration {
	if p.f.ReorderTimeout > 0 {
		return p.f.ReorderTimeout
	}
	return time.Millisecond
}

func (p *pathState) flushHeld() {
	p.mu.Lock()
	h := p.held
	p.held = nil
	p.mu.Unlock()
	if h != nil {
		p.link.deliver(h.dst, h.proto, h.buf)
		p.link.held.Add(-1)
		p.link.net.activity.Add(1)
	}
}

func (p *pathState) enqueueLocked(fr frame, due time.Time) {
	p.link.stats.delayed.Add(1)
	p.link.held.Add(1)
	p.seq++
	fr.due, fr.seq = due, p.seq
	i := sort.Search(len(p.queue), func(i int) bool { return p.queue[i].due.After(due) })
	p.queue = append(p.queue, frame{})
	copy(p.queue[i+1:], p.queue[i:])
	p.queue[i] = fr
	if i == 0 {
		p.armLocked()
	}
}

func (p *pathState) armLocked() {
	if len(p.queue) == 0 {
		return
	}
	d := time.Until(p.queue[0].due)
	if p.queueTimer == nil {
		p.queueTimer = time.AfterFunc(d, p.drain)
	} else {
		p.queueTimer.Reset(d)
	}
}

// drain delivers every due frame in order. Only one drain runs at a time
// per direction because the timer is re-armed only after delivery.
func (p *pathState) drain() {
	for {
		p.mu.Lock()
		if p.stopped || len(p.queue) == 0 {
			p.mu.Unlock()
			return
		}
		if time.Until(p.queue[0].due) > 0 {
			p.armLocked()
			p.mu.Unlock()
			return
		}
		fr := p.queue[0]
		p.queue[0] = frame{}
		p.queue = p.queue[1:]
		p.mu.Unlock()
		p.link.deliver(fr.dst, fr.proto, fr.buf)
		p.link.held.Add(-1)
		p.link.net.activity.Add(1)
	}
}

func (p *pathState) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.heldTimer != nil {
		p.heldTimer.Stop()
	}
	if p.queueTimer != nil {
		p.queueTimer.Stop()
	}
	if p.held != nil {
		p.held.buf.Release()
		p.held = nil
		p.link.held.Add(-1)
	}
	for _, fr := range p.queue {
		fr.buf.Release()
		p.link.held.Add(-1)
	}
	p.queue = nil
}
