package bpf

import (
	"sync"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/cilium/ebpf"
)

// queueMap is BPF_MAP_TYPE_QUEUE (FIFO) and BPF_MAP_TYPE_STACK (LIFO),
// laid out like the kernel's: a ring of max_entries+1 slots, head is where
// the next push goes, tail the oldest element.
type queueMap struct {
	*base
	mu         sync.Mutex
	size       uint32
	head, tail uint32
	elems      []byte
	stack      bool
}

func newQueue(b *base) *queueMap {
	q := &queueMap{base: b, size: b.spec.MaxEntries + 1, stack: b.spec.Type == ebpf.Stack}
	q.elems = make([]byte, uint64(q.size)*uint64(b.spec.ValueSize))
	b.init(q)
	return q
}

func (q *queueMap) slot(i uint32) []byte {
	vs := q.spec.ValueSize
	return q.elems[i*vs : (i+1)*vs]
}

func (q *queueMap) push(value []byte, flags uint64) syscall.Errno {
	if flags&UpdateNoExist != 0 || flags > UpdateExist {
		return errno.EINVAL
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if (q.head+1)%q.size == q.tail {
		if flags&UpdateExist == 0 {
			return errno.E2BIG
		}
		// BPF_EXIST overwrites the oldest element.
		q.tail = (q.tail + 1) % q.size
	}
	copy(q.slot(q.head), value)
	q.head = (q.head + 1) % q.size
	return 0
}

// get copies out the element pop/peek would return.
func (q *queueMap) get(out []byte, remove bool) syscall.Errno {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == q.tail {
		return errno.ENOENT
	}
	if q.stack {
		i := (q.head + q.size - 1) % q.size
		copy(out, q.slot(i))
		if remove {
			q.head = i
		}
		return 0
	}
	copy(out, q.slot(q.tail))
	if remove {
		q.tail = (q.tail + 1) % q.size
	}
	return 0
}

func (q *queueMap) sysLookup(key []byte) ([]byte, syscall.Errno) {
	out := make([]byte, q.spec.ValueSize)
	if e := q.get(out, false); e != 0 {
		return nil, e
	}
	return out, 0
}

func (q *queueMap) sysUpdate(key, value []byte, flags uint64) syscall.Errno {
	return q.push(value, flags)
}

func (q *queueMap) sysDelete(key []byte) syscall.Errno { return errno.EINVAL }

func (q *queueMap) nextKey(key, next []byte) syscall.Errno { return errno.EINVAL }

// Push adds value (BPF_EXIST: overwrite the oldest when full).
func (q *queueMap) Push(value []byte, flags uint64) error {
	return q.UpdateBytes(nil, value, flags)
}

// Pop removes the next element into valueOut (BPF_MAP_LOOKUP_AND_DELETE_ELEM).
func (q *queueMap) Pop(valueOut []byte) error {
	if err := q.canWrite("pop"); err != nil {
		return err
	}
	if len(valueOut) != int(q.spec.ValueSize) {
		return q.fail("pop", errno.EINVAL, "output buffer size")
	}
	if e := q.get(valueOut, true); e != 0 {
		return q.fail("pop", e, "")
	}
	return nil
}

// Peek copies the next element into valueOut.
func (q *queueMap) Peek(valueOut []byte) error {
	if len(valueOut) != int(q.spec.ValueSize) {
		return q.fail("peek", errno.EINVAL, "output buffer size")
	}
	if e := q.get(valueOut, false); e != 0 {
		return q.fail("peek", e, "")
	}
	return nil
}
