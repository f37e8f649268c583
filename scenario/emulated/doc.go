// Package emulated is the scenario backend that runs scenarios on skmsg's
// own runtime: objects loaded by the loader, programs run on the
// interpreter, sockets in the user-space network. It needs no privilege
// and runs on every GOOS.
//
// Its tests are also the differential tests of the runtime: they drive the
// same scenario sessions on this backend and on the real kernel
// (scenario/kernel) and require the same answers.
//
// Files:
//
//	backend.go  the Backend and its sessions (maps, programs, sockets)
//	trace.go    per-step program runs and instruction traces (Backend.Trace)
//	events.go   ring buffer and perf event records for events steps
//	stream.go   stream steps (scenario.RunStream) ending at the runtime's exact idle
//	sndtimeo.go blocking sends that cannot complete end as with SO_SNDTIMEO
package emulated
