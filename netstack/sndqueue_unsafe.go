package netstack

import (
	"reflect"
	"unsafe"

	gsync "gvisor.dev/gvisor/pkg/sync"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// gVisor does not export how many bytes sit in a TCP endpoint's send
// buffer (queued, or sent and not yet acknowledged), yet that is exactly
// what the idle check needs. The counter is read under its own mutex, at
// offsets found by reflection once; TestSendQueueLayout fails if a gVisor
// upgrade changes the layout, and the idle check then falls back to
// watching the link.
var sndQueueLayout = func() (l struct {
	ok      bool
	muOff   uintptr
	usedOff uintptr
}) {
	// offsetOf follows a path of field names, adding offsets (FieldByName
	// gives promoted fields' offsets relative to their own struct).
	offsetOf := func(t reflect.Type, path ...string) (uintptr, reflect.Type, bool) {
		var off uintptr
		for _, name := range path {
			if t.Kind() != reflect.Struct {
				return 0, nil, false
			}
			f, ok := t.FieldByName(name)
			if !ok {
				return 0, nil, false
			}
			// Walk the index path for promoted fields.
			cur := t
			for _, i := range f.Index {
				sf := cur.Field(i)
				off += sf.Offset
				cur = sf.Type
			}
			t = cur
		}
		return off, t, true
	}
	et := reflect.TypeOf(tcp.Endpoint{})
	muOff, muType, ok := offsetOf(et, "sndQueueInfo", "sndQueueMu", "mu")
	if !ok || muType != reflect.TypeOf(gsync.Mutex{}) {
		return
	}
	usedOff, usedType, ok := offsetOf(et, "sndQueueInfo", "SndBufUsed")
	if !ok || usedType.Kind() != reflect.Int {
		return
	}
	l.ok, l.muOff, l.usedOff = true, muOff, usedOff
	return
}()

// sendQueued returns the bytes held in ep's send buffer.
func sendQueued(ep tcpip.Endpoint) (int, bool) {
	e, isTCP := ep.(*tcp.Endpoint)
	if !isTCP || !sndQueueLayout.ok {
		return 0, false
	}
	base := unsafe.Pointer(e)
	mu := (*gsync.Mutex)(unsafe.Add(base, sndQueueLayout.muOff))
	mu.Lock()
	v := *(*int)(unsafe.Add(base, sndQueueLayout.usedOff))
	mu.Unlock()
	return v, true
}

// Segments the link has handed to an endpoint wait in its segment queue
// until one of gVisor's processor goroutines runs; on a loaded machine that
// can take longer than WaitIdle's settle window, and nothing else shows
// them (the ACK they will cause has not been sent yet). The queue's list
// head is read under the queue's mutex, at offsets found the same way.
var segQueueLayout = func() (l struct {
	ok      bool
	muOff   uintptr
	headOff uintptr
}) {
	et := reflect.TypeOf(tcp.Endpoint{})
	qf, ok := et.FieldByName("segmentQueue")
	if !ok || len(qf.Index) != 1 || qf.Type.Kind() != reflect.Struct {
		return
	}
	mf, ok := qf.Type.FieldByName("mu")
	if !ok || len(mf.Index) != 1 || mf.Type.Kind() != reflect.Struct {
		return
	}
	inner, ok := mf.Type.FieldByName("mu")
	if !ok || len(inner.Index) != 1 || inner.Type != reflect.TypeOf(gsync.Mutex{}) {
		return
	}
	lf, ok := qf.Type.FieldByName("list")
	if !ok || len(lf.Index) != 1 || lf.Type.Kind() != reflect.Struct {
		return
	}
	hf, ok := lf.Type.FieldByName("head")
	if !ok || len(hf.Index) != 1 || hf.Type.Kind() != reflect.Pointer {
		return
	}
	l.ok = true
	l.muOff = qf.Offset + mf.Offset + inner.Offset
	l.headOff = qf.Offset + lf.Offset + hf.Offset
	return
}()

// segmentsQueued reports whether ep has received segments that no
// processor goroutine has handled yet.
func segmentsQueued(ep tcpip.Endpoint) (pending, ok bool) {
	e, isTCP := ep.(*tcp.Endpoint)
	if !isTCP || !segQueueLayout.ok {
		return false, false
	}
	base := unsafe.Pointer(e)
	mu := (*gsync.Mutex)(unsafe.Add(base, segQueueLayout.muOff))
	mu.Lock()
	head := *(*unsafe.Pointer)(unsafe.Add(base, segQueueLayout.headOff))
	mu.Unlock()
	return head != nil, true
}
