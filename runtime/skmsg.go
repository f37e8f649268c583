package runtime

import (
	"sync"
	"sync/atomic"

	"github.com/skmsg/skmsg/internal/errno"
)

// This file holds the generic sk_msg layer: the scatter-gather message that
// user data is copied into before the msg program sees it (the kernel's
// struct sk_msg), and the pull/push/pop operations the helpers perform on it.
//
// The kernel keeps the elements in a ring of NR_MSG_FRAG_IDS slots with
// start/end indices. Ring positions are not observable (only the element
// layout is: data/data_end cover one element), so a Msg keeps its elements
// in a plain array starting at index 0, which makes every operation a short
// slice shuffle.

// MaxMsgFrags is the number of usable scatterlist elements of a message
// (MAX_MSG_FRAGS = MAX_SKB_FRAGS = 17).
const MaxMsgFrags = 17

// FragSize is the size of a fresh page fragment the send path copies user
// data into: each sendmsg chunk starts a fresh fragment, so an element holds
// at most FragSize bytes.
const FragSize = 32768

// maxAlloc is the largest buffer pull/push/pop may allocate (PAGE_SIZE <<
// MAX_PAGE_ORDER on x86-64); larger requests fail with ENOMEM as
// alloc_pages does.
const maxAlloc = 4 << 20

// page is a reference-counted buffer, the analogue of a struct page shared
// by scatterlist elements (an ingress redirect moves references, not bytes).
type page struct {
	b    []byte
	refs atomic.Int32
}

var fragPool = sync.Pool{New: func() any { return &page{b: make([]byte, FragSize)} }}

// newPage returns a page of at least n bytes with one reference. Fragments
// come from a pool; odd sizes (pull/push/pop buffers) are allocated.
// zero asks for zeroed contents.
func newPage(n int, zero bool) *page {
	var p *page
	if n <= FragSize {
		p = fragPool.Get().(*page)
		if zero {
			clear(p.b[:n])
		}
	} else {
		p = &page{b: make([]byte, n)}
	}
	p.refs.Store(1)
	return p
}

func (p *page) get() { p.refs.Add(1) }

// Release gives back the reference an ingress queue held
// (netstack.Releaser).
func (p *page) Release() { p.put() }

func (p *page) put() {
	if p.refs.Add(-1) == 0 && len(p.b) == FragSize {
		fragPool.Put(p)
	}
}

// sge is one scatterlist element: length bytes at offset of a page.
type sge struct {
	pg     *page
	offset uint32
	length uint32
}

func (e *sge) bytes() []byte { return e.pg.b[e.offset : e.offset+e.length] }

// Msg is an sk_msg: up to MaxMsgFrags elements plus the per-message state
// the helpers set (apply_bytes, cork_bytes, redirect flags and target).
type Msg struct {
	sg   [MaxMsgFrags]sge
	n    int    // elements in use: sg[0:n]
	size uint32 // total bytes

	// Per-message fields set by helpers. They are zeroed only when a
	// fresh message is initialised (kernel: sk_msg_init), so re-runs on a
	// remainder or a held cork message see stale values.
	ApplyBytes uint32
	CorkBytes  uint32
	Flags      uint64
	SkRedir    *Socket

	// data/data_end: element index and [lo,hi) byte range within it. The
	// kernel sets them to the first element before every program run and
	// after push/pop; pull sets an arbitrary range.
	dataElem int
	dataLo   uint32
	dataHi   uint32

	// fin marks an empty message carrying end of stream (receive path).
	fin bool
}

var msgPool = sync.Pool{New: func() any { return new(Msg) }}

// newMsg returns an empty pooled message.
func newMsg() *Msg { return msgPool.Get().(*Msg) }

// release frees the message's pages and returns it to the pool.
func (m *Msg) release() {
	m.free()
	*m = Msg{}
	msgPool.Put(m)
}

// init resets m to an empty message with all per-message fields zero.
func (m *Msg) init() {
	m.free()
	*m = Msg{}
}

// Size is the number of bytes the message holds.
func (m *Msg) Size() uint32 { return m.size }

// Elems is the number of scatterlist elements in use.
func (m *Msg) Elems() int { return m.n }

// ElemLen returns the length of element i.
func (m *Msg) ElemLen(i int) uint32 { return m.sg[i].length }

// Full reports whether every element is in use (sk_msg_full).
func (m *Msg) Full() bool { return m.n == MaxMsgFrags }

// Bytes appends the message contents to dst.
func (m *Msg) Bytes(dst []byte) []byte {
	for i := 0; i < m.n; i++ {
		dst = append(dst, m.sg[i].bytes()...)
	}
	return dst
}

// Data returns the bytes between data and data_end.
func (m *Msg) Data() []byte {
	if m.dataElem >= m.n {
		return nil
	}
	e := &m.sg[m.dataElem]
	return e.pg.b[e.offset+m.dataLo : e.offset+m.dataHi]
}

// computeDataPointers makes data/data_end cover the first element
// (sk_msg_compute_data_pointers).
func (m *Msg) computeDataPointers() {
	m.dataElem = 0
	m.dataLo = 0
	if m.n > 0 {
		m.dataHi = m.sg[0].length
	} else {
		m.dataHi = 0
	}
}

// fill copies bytes from iov (starting skip bytes in) into fresh
// fragments, at most max bytes, as sk_msg_alloc + sk_msg_memcopy_from_iter
// do: each call starts a fresh fragment and adds elements of at most
// FragSize bytes until the data is consumed or the ring is full. It returns
// the bytes copied and whether the ring filled first (ENOSPC).
func (m *Msg) fill(iov [][]byte, skip int, max int) (copied int, enospc bool) {
	// Skip whole buffers.
	bi := 0
	for bi < len(iov) && skip >= len(iov[bi]) {
		skip -= len(iov[bi])
		bi++
	}
	for copied < max && bi < len(iov) {
		if m.n == MaxMsgFrags {
			return copied, true
		}
		want := max - copied
		if want > FragSize {
			want = FragSize
		}
		pg := newPage(FragSize, false)
		got := 0
		for got < want && bi < len(iov) {
			c := copy(pg.b[got:want], iov[bi][skip:])
			got += c
			skip += c
			if skip == len(iov[bi]) {
				bi++
				skip = 0
			}
		}
		m.sg[m.n] = sge{pg: pg, length: uint32(got)}
		m.n++
		m.size += uint32(got)
		copied += got
	}
	if copied < max && m.n == MaxMsgFrags {
		enospc = true
	}
	return copied, enospc
}

// free releases every element (sk_msg_free) and returns the bytes freed.
func (m *Msg) free() uint32 {
	freed := m.size
	for i := 0; i < m.n; i++ {
		m.sg[i].pg.put()
		m.sg[i] = sge{}
	}
	m.n = 0
	m.size = 0
	m.dataElem, m.dataLo, m.dataHi = 0, 0, 0
	return freed
}

// consume drops the first n bytes (n ≤ size), releasing emptied elements
// (what tcp_bpf_push leaves behind and sk_msg_free_partial does).
func (m *Msg) consume(n uint32) {
	drop := 0
	for drop < m.n && n > 0 {
		e := &m.sg[drop]
		if n < e.length {
			e.offset += n
			e.length -= n
			m.size -= n
			n = 0
			break
		}
		n -= e.length
		m.size -= e.length
		e.pg.put()
		drop++
	}
	m.removeElems(0, drop)
}

// removeElems removes elements [i, i+k) and shifts the rest left.
func (m *Msg) removeElems(i, k int) {
	if k == 0 {
		return
	}
	copy(m.sg[i:], m.sg[i+k:m.n])
	for j := m.n - k; j < m.n; j++ {
		m.sg[j] = sge{}
	}
	m.n -= k
}

// insertElem inserts e at index i, shifting later elements right. The
// caller guarantees a free slot.
func (m *Msg) insertElem(i int, e sge) {
	copy(m.sg[i+1:m.n+1], m.sg[i:m.n])
	m.sg[i] = e
	m.n++
}

// xfer moves up to n bytes from the front of m into a new message by
// reference (sk_msg_xfer per element, as bpf_tcp_ingress does); the page
// references are shared, not copied.
func (m *Msg) xfer(n uint32) *Msg {
	out := newMsg()
	for i := 0; i < m.n && n > 0; i++ {
		e := &m.sg[i]
		take := e.length
		if n < take {
			take = n
		}
		e.pg.get()
		out.sg[out.n] = sge{pg: e.pg, offset: e.offset, length: take}
		out.n++
		out.size += take
		n -= take
	}
	m.consume(out.size)
	return out
}

// find returns the element holding byte start the way the kernel's helpers
// walk the ring: i is the element with start < offset+l, or m.n when start
// is at or past the end (then offset/l describe the last element).
func (m *Msg) find(start uint32) (i int, offset, l uint32) {
	for i = 0; i < m.n; i++ {
		offset += l
		l = m.sg[i].length
		if start < offset+l {
			return i, offset, l
		}
	}
	return m.n, offset, l
}

// Pull implements bpf_msg_pull_data: make [start,end) one contiguous
// element and point data/data_end at it. It returns 0 or a negative errno.
func (m *Msg) Pull(start, end uint32, flags uint64) int64 {
	if flags != 0 || end <= start {
		return -int64(errno.EINVAL)
	}
	i, offset, l := m.find(start)
	if i == m.n || start >= offset+l {
		return -int64(errno.EINVAL)
	}
	bytes := end - start
	total := uint64(start-offset) + uint64(bytes)
	if total > uint64(l) {
		// Linearise whole elements from i through the one holding end-1.
		var cp uint64
		last := i
		for last < m.n {
			cp += uint64(m.sg[last].length)
			last++
			if total <= cp {
				break
			}
		}
		if total > cp {
			return -int64(errno.EINVAL)
		}
		if cp > maxAlloc {
			return -int64(errno.ENOMEM)
		}
		pg := newPage(int(cp), false)
		off := 0
		for j := i; j < last; j++ {
			off += copy(pg.b[off:], m.sg[j].bytes())
			m.sg[j].pg.put()
		}
		m.sg[i] = sge{pg: pg, length: uint32(cp)}
		m.removeElems(i+1, last-i-1)
	}
	m.dataElem = i
	m.dataLo = start - offset
	m.dataHi = m.dataLo + bytes
	return 0
}

// Push implements bpf_msg_push_data: insert len zeroed bytes at start.
func (m *Msg) Push(start, length uint32, flags uint64) int64 {
	if flags != 0 {
		return -int64(errno.EINVAL)
	}
	if length == 0 {
		return 0
	}
	i, offset, l := m.find(start)
	if uint64(start) > uint64(offset)+uint64(l) {
		return -int64(errno.EINVAL)
	}
	space := MaxMsgFrags - m.n
	appendAtEnd := i == m.n
	if space == 0 || (space == 1 && start != offset) {
		// No room for the split: merge the element holding start with the
		// new bytes into one buffer.
		if appendAtEnd {
			i--
			if i < 0 {
				return -int64(errno.EINVAL)
			}
			offset = start - m.sg[i].length
		}
		e := &m.sg[i]
		front := start - offset
		back := e.length - front
		if uint64(front)+uint64(length)+uint64(back) > maxAlloc {
			return -int64(errno.ENOMEM)
		}
		pg := newPage(int(front+length+back), true)
		src := e.bytes()
		copy(pg.b, src[:front])
		copy(pg.b[front+length:], src[front:])
		e.pg.put()
		*e = sge{pg: pg, length: front + length + back}
	} else {
		if length > maxAlloc {
			return -int64(errno.ENOMEM)
		}
		pg := newPage(int(length), true)
		ne := sge{pg: pg, length: length}
		switch {
		case appendAtEnd:
			m.sg[m.n] = ne
			m.n++
		case start == offset:
			m.insertElem(i, ne)
		default:
			// Split element i into left, new, right. The right part
			// starts (start - offset) bytes into the element.
			e := m.sg[i]
			front := start - offset
			right := sge{pg: e.pg, offset: e.offset + front, length: e.length - front}
			e.pg.get()
			m.sg[i].length = front
			m.insertElem(i+1, ne)
			m.insertElem(i+2, right)
		}
	}
	m.size += length
	m.computeDataPointers()
	return 0
}

// Pop implements bpf_msg_pop_data: remove [start, start+len).
func (m *Msg) Pop(start, length uint32, flags uint64) int64 {
	if flags != 0 {
		return -int64(errno.EINVAL)
	}
	if length == 0 {
		return 0
	}
	i, offset, l := m.find(start)
	if i == m.n || start >= offset+l || uint64(start)+uint64(length) > uint64(m.size) {
		return -int64(errno.EINVAL)
	}
	space := MaxMsgFrags - m.n
	pop := int64(length)
	if start != offset {
		e := &m.sg[i]
		a := int64(start - offset)
		b := int64(e.length) - pop - a
		i++
		if b > 0 {
			if space > 0 {
				right := sge{pg: e.pg, offset: e.offset + uint32(a+pop), length: uint32(b)}
				e.pg.get()
				e.length = uint32(a)
				m.insertElem(i, right)
			} else {
				if a+b > maxAlloc {
					return -int64(errno.ENOMEM)
				}
				pg := newPage(int(a+b), false)
				src := e.bytes()
				copy(pg.b, src[:a])
				copy(pg.b[a:], src[a+pop:])
				e.pg.put()
				*e = sge{pg: pg, length: uint32(a + b)}
			}
			pop = 0
		} else {
			pop -= int64(e.length) - a
			e.length = uint32(a)
		}
	}
	for pop > 0 && i < m.n {
		e := &m.sg[i]
		if pop < int64(e.length) {
			e.length -= uint32(pop)
			e.offset += uint32(pop)
			pop = 0
		} else {
			pop -= int64(e.length)
			e.pg.put()
			m.removeElems(i, 1)
		}
	}
	m.size -= length - uint32(pop)
	m.computeDataPointers()
	return 0
}
