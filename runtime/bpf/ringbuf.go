package bpf

import (
	"sync"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"
)

// Ring buffer record header size and the query selectors of
// bpf_ringbuf_query.
const (
	ringbufHdrSize   = 8
	ringbufMaxRecord = (1<<32 - 1) / 4

	RingbufAvailData = 0
	RingbufRingSize  = 1
	RingbufConsPos   = 2
	RingbufProdPos   = 3

	RingbufNoWakeup    = 1
	RingbufForceWakeup = 2
)

// RingBuf is BPF_MAP_TYPE_RINGBUF. Space is accounted as the kernel does
// (8-byte header, records rounded up to 8 bytes, producer at most size-1
// bytes ahead of the consumer and of the oldest uncommitted record);
// record memory is allocated per record so a program writes the reserved
// region directly. The consumer side is Read/Records.
type RingBuf struct {
	*base
	mu         sync.Mutex
	size       uint64
	cons, prod uint64
	recs       []*ringRec // unconsumed, in producer order
	notify     func()
}

type ringRec struct {
	pos   uint64
	len   uint64 // header + data, rounded to 8
	data  []byte
	state uint8 // 0 busy, 1 committed, 2 discarded
}

func newRingBuf(b *base) *RingBuf {
	r := &RingBuf{base: b, size: uint64(b.spec.MaxEntries)}
	b.init(r)
	return r
}

func (r *RingBuf) sysLookup(key []byte) ([]byte, syscall.Errno)        { return nil, errno.ENOTSUPP }
func (r *RingBuf) sysUpdate(key, value []byte, f uint64) syscall.Errno { return errno.ENOTSUPP }
func (r *RingBuf) sysDelete(key []byte) syscall.Errno                  { return errno.ENOTSUPP }
func (r *RingBuf) nextKey(key, next []byte) syscall.Errno              { return errno.ENOTSUPP }

// SetNotify sets a function called (without locks held) when a record
// becomes readable, unless the producer asked for no wakeup.
func (r *RingBuf) SetNotify(f func()) {
	r.mu.Lock()
	r.notify = f
	r.mu.Unlock()
}

// reserve returns a busy record of size bytes, or nil when it does not fit.
func (r *RingBuf) reserve(size uint64) *ringRec {
	if size > ringbufMaxRecord {
		return nil
	}
	n := (size + ringbufHdrSize + 7) &^ 7
	if n > r.size {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pend := r.prod
	for _, rec := range r.recs {
		if rec.state == 0 {
			pend = rec.pos
			break
		}
	}
	np := r.prod + n
	if np-r.cons > r.size-1 || np-pend > r.size-1 {
		return nil
	}
	rec := &ringRec{pos: r.prod, len: n, data: make([]byte, size)}
	r.prod = np
	r.recs = append(r.recs, rec)
	return rec
}

func (r *RingBuf) commit(rec *ringRec, discard bool, flags uint64) {
	r.mu.Lock()
	if discard {
		rec.state = 2
	} else {
		rec.state = 1
	}
	notify := r.notify
	r.mu.Unlock()
	if notify != nil && !discard && flags&RingbufNoWakeup == 0 {
		notify()
	}
}

// output is bpf_ringbuf_output.
func (r *RingBuf) output(data []byte, flags uint64) syscall.Errno {
	if flags&^(RingbufNoWakeup|RingbufForceWakeup) != 0 {
		return errno.EINVAL
	}
	rec := r.reserve(uint64(len(data)))
	if rec == nil {
		return errno.EAGAIN
	}
	copy(rec.data, data)
	r.commit(rec, false, flags)
	return 0
}

func (r *RingBuf) query(flags uint64) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch flags {
	case RingbufAvailData:
		return r.prod - r.cons
	case RingbufRingSize:
		return r.size
	case RingbufConsPos:
		return r.cons
	case RingbufProdPos:
		return r.prod
	}
	return 0
}

// Read consumes the next committed record (skipping discarded ones); ok
// is false when none is ready (empty, or the oldest is still reserved).
func (r *RingBuf) Read() (data []byte, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.recs) > 0 {
		rec := r.recs[0]
		if rec.state == 0 {
			return nil, false
		}
		r.recs[0] = nil
		r.recs = r.recs[1:]
		r.cons += rec.len
		if rec.state == 1 {
			return rec.data, true
		}
	}
	return nil, false
}

// Records consumes every ready record.
func (r *RingBuf) Records() [][]byte {
	var out [][]byte
	for {
		d, ok := r.Read()
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// PerfRecord is one bpf_perf_event_output sample.
type PerfRecord struct {
	CPU  int // the perf event array index written to
	Data []byte
}

// PerfArray is BPF_MAP_TYPE_PERF_EVENT_ARRAY. Each index stands for a perf
// event open on the CPU of that number (as a perf reader sets it up), all
// open at creation; deleting an index closes it (later outputs get
// ENOENT) and UpdateBytes opens it again. Samples are kept in order until
// Records drains them; past MaxPending they are counted as lost.
type PerfArray struct {
	*base
	mu     sync.Mutex
	open   []bool
	recs   []PerfRecord
	lost   uint64
	notify func()
}

// MaxPending bounds the samples a perf event array keeps undrained.
const MaxPending = 1 << 16

// Perf output flags.
const (
	perfIndexMask  = 0xFFFFFFFF
	perfCurrentCPU = 0xFFFFFFFF
	perfCtxLenMask = 0xFFFFF << 32
)

func newPerfArray(b *base) *PerfArray {
	p := &PerfArray{base: b, open: make([]bool, b.spec.MaxEntries)}
	for i := range p.open {
		p.open[i] = true
	}
	b.init(p)
	return p
}

func (p *PerfArray) sysLookup(key []byte) ([]byte, syscall.Errno) { return nil, errno.ENOTSUPP }

func (p *PerfArray) sysUpdate(key, value []byte, flags uint64) syscall.Errno {
	i := nativeU32(key)
	if e := fdArrayUpdateCheck(flags, i, p.spec.MaxEntries); e != 0 {
		return e
	}
	p.mu.Lock()
	p.open[i] = true
	p.mu.Unlock()
	return 0
}

func (p *PerfArray) sysDelete(key []byte) syscall.Errno {
	i := nativeU32(key)
	if i >= p.spec.MaxEntries {
		return errno.E2BIG
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.open[i] {
		return errno.ENOENT
	}
	p.open[i] = false
	return 0
}

func (p *PerfArray) nextKey(key, next []byte) syscall.Errno {
	return arrayNextKey(key, next, p.spec.MaxEntries)
}

// Output is the core of bpf_perf_event_output for the running cpu: the
// flags hold the index (or BPF_F_CURRENT_CPU); ctxLenOK allows the upper
// bits that program types with a packet use for appending it (the caller
// appends those bytes to data).
func (p *PerfArray) Output(cpu int, flags uint64, data []byte, ctxLenOK bool) syscall.Errno {
	mask := uint64(perfIndexMask)
	if ctxLenOK {
		mask |= perfCtxLenMask
	}
	if flags&^mask != 0 {
		return errno.EINVAL
	}
	idx := flags & perfIndexMask
	if idx == perfCurrentCPU {
		idx = uint64(cpu)
	}
	if idx >= uint64(p.spec.MaxEntries) {
		return errno.E2BIG
	}
	p.mu.Lock()
	if !p.open[idx] {
		p.mu.Unlock()
		return errno.ENOENT
	}
	if idx != uint64(cpu) {
		p.mu.Unlock()
		return errno.EOPNOTSUPP // the event is bound to another CPU
	}
	if len(p.recs) >= MaxPending {
		p.lost++
		p.mu.Unlock()
		return 0
	}
	p.recs = append(p.recs, PerfRecord{CPU: int(idx), Data: append([]byte(nil), data...)})
	notify := p.notify
	p.mu.Unlock()
	if notify != nil {
		notify()
	}
	return 0
}

// SetNotify sets a function called after each sample.
func (p *PerfArray) SetNotify(f func()) {
	p.mu.Lock()
	p.notify = f
	p.mu.Unlock()
}

// Records drains the samples and returns how many were lost.
func (p *PerfArray) Records() ([]PerfRecord, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out, lost := p.recs, p.lost
	p.recs, p.lost = nil, 0
	return out, lost
}
