package netstack

import (
	"reflect"
	"sync"
	"unsafe"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// gVisor does not export how many bytes sit in a TCP endpoint's send
// buffer (queued or sent but unacknowledged), yet that is exactly what the
// idle check needs. The field is read under its own mutex, at offsets
// found by reflection once; if the layout is not the expected one, the
// idle check falls back to the link-level view.
var sndQueueLayout = func() (l struct {
	ok      bool
	muOff   uintptr
	usedOff uintptr
}) {
	et := reflect.TypeOf(tcp.Endpoint{})
	sq, ok := et.FieldByName("sndQueueInfo")
	if !ok {
		return
	}
	mu, ok := sq.Type.FieldByName("sndQueueMu")
	if !ok || mu.Type.Kind() != reflect.Struct || mu.Type.NumField() < 1 || mu.Type.Field(0).Type != reflect.TypeOf(sync.Mutex{}) || mu.Type.Field(0).Offset != 0 {
		return
	}
	used, ok := sq.Type.FieldByName("SndBufUsed")
	if !ok || used.Type.Kind() != reflect.Int {
		return
	}
	l.ok = true
	l.muOff = sq.Offset + mu.Offset
	l.usedOff = sq.Offset + used.Offset
	return
}()

// sendQueued returns the bytes held in ep's send buffer.
func sendQueued(ep tcpip.Endpoint) (int, bool) {
	e, isTCP := ep.(*tcp.Endpoint)
	if !isTCP || !sndQueueLayout.ok {
		return 0, false
	}
	base := unsafe.Pointer(e)
	mu := (*sync.Mutex)(unsafe.Add(base, sndQueueLayout.muOff))
	mu.Lock()
	v := *(*int)(unsafe.Add(base, sndQueueLayout.usedOff))
	mu.Unlock()
	return v, true
}
