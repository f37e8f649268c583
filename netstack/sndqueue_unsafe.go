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
