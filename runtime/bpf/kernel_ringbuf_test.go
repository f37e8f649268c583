package bpf

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
)

// Mirrors of rbops.c.
const (
	rbOutput = iota + 1
	rbReserveSubmit
	rbReserveDiscard
	rbQuery
	rbReserveFlags
)

type rbOp struct {
	Op, Size uint32
	Flags    uint64
}

type rbScript struct {
	O    [32]rbOp
	N    uint32
	_    uint32
	Data [4096]byte
}

type rbResults struct{ R [32]int64 }

// record is what a consumer saw: the length, and the bytes both sides
// define (reserved records are not zeroed by the kernel: first and last
// byte only).
type record struct {
	len         int
	first, last byte
}

func rbScripts() [][]rbOp {
	queries := []rbOp{{Op: rbQuery, Size: RingbufAvailData}, {Op: rbQuery, Size: RingbufRingSize},
		{Op: rbQuery, Size: RingbufConsPos}, {Op: rbQuery, Size: RingbufProdPos}, {Op: rbQuery, Size: 7}}
	return [][]rbOp{
		append([]rbOp{
			{Op: rbOutput, Size: 10}, {Op: rbOutput, Size: 4000}, {Op: rbOutput, Size: 100},
			{Op: rbOutput, Size: 50, Flags: 4}, {Op: rbOutput, Size: 0},
		}, queries...),
		append([]rbOp{
			{Op: rbReserveSubmit, Size: 4}, {Op: rbReserveSubmit, Size: 3}, {Op: rbReserveDiscard, Size: 1},
			{Op: rbReserveSubmit, Size: 1}, {Op: rbReserveFlags, Flags: 1},
			{Op: rbReserveSubmit, Size: 0, Flags: RingbufNoWakeup}, {Op: rbReserveDiscard, Size: 0, Flags: RingbufForceWakeup},
			{Op: rbOutput, Size: 1, Flags: RingbufNoWakeup | RingbufForceWakeup},
		}, queries...),
		append([]rbOp{
			{Op: rbReserveSubmit, Size: 2}, {Op: rbReserveDiscard, Size: 2}, {Op: rbReserveSubmit, Size: 2},
			{Op: rbOutput, Size: 4095}, {Op: rbOutput, Size: 1},
		}, queries...),
	}
}

// TestKernelRingBuf runs each script twice on the kernel and on the vm,
// draining the ring between runs, and compares helper results and the
// records a consumer reads.
func TestKernelRingBuf(t *testing.T) {
	kernelMapsAllowed(t)
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("maps", "rbops.o"))
	require.NoError(t, err)
	total, diverged := 0, 0
	for si, ops := range rbScripts() {
		kc := kernelCollection(t, spec)
		rd, err := ringbuf.NewReader(kc.Maps["rb"])
		require.NoError(t, err)
		ec := loadObject(t, "rbops.o", Env{})
		em := ec.space.NewMachine()

		var sc rbScript
		copy(sc.O[:], ops)
		sc.N = uint32(len(ops))
		require.NoError(t, kc.Maps["rb_script"].Put(uint32(0), sc))
		require.NoError(t, ec.maps["rb_script"].Put(uint32(0), sc))
		for run := 0; run < 2; run++ {
			_, err = kc.Programs["rbops"].Run(&ebpf.RunOptions{Data: make([]byte, 64)})
			require.NoError(t, err)
			var want, got rbResults
			require.NoError(t, kc.Maps["rb_results"].Lookup(uint32(0), &want))
			ec.run(t, em, "rbops")
			require.NoError(t, ec.maps["rb_results"].Lookup(uint32(0), &got))
			for i, o := range ops {
				total++
				if !assert.Equal(t, want.R[i], got.R[i], "script %d run %d op %d %+v", si, run, i, o) {
					diverged++
				}
			}
			var krecs, erecs []record
			rd.SetDeadline(time.Now())
			for {
				r, err := rd.Read()
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				require.NoError(t, err)
				krecs = append(krecs, summarize(r.RawSample))
			}
			for _, r := range ec.maps["rb"].(*RingBuf).Records() {
				erecs = append(erecs, summarize(r))
			}
			total++
			if !assert.Equal(t, krecs, erecs, "script %d run %d: records", si, run) {
				diverged++
			}
			if testing.Verbose() {
				t.Logf("script %d run %d: kernel results %v, %d records", si, run, want.R[:len(ops)], len(krecs))
			}
		}
		rd.Close()
		kc.Close()
	}
	t.Logf("compared %d ring buffer results, %d diverged", total, diverged)
}

func summarize(b []byte) record {
	if len(b) == 0 {
		return record{}
	}
	return record{len: len(b), first: b[0], last: b[len(b)-1]}
}
