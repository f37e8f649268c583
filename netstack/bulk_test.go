package netstack

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// pattern is a pseudo-random block of prime length: a stream made of it
// repeated catches lost, duplicated, reordered or shifted bytes.
var pattern = func() []byte {
	b := make([]byte, 65521)
	rand.New(rand.NewSource(7)).Read(b)
	return b
}()

func TestBulkTransfer(t *testing.T) {
	const size = 64 << 20
	for _, tc := range []struct {
		name    string
		opts    Options
		faults  Faults
		reverse bool
	}{
		{name: "client to server", opts: Options{Seed: 1}},
		{name: "server to client", opts: Options{Seed: 2}, reverse: true},
		{name: "client to server, 5% loss and reordering", opts: Options{Seed: 3, MTU: 9000, MinRTO: 5 * time.Millisecond},
			faults: Faults{Loss: 0.05, Reorder: 0.05}},
		{name: "server to client, 5% loss and reordering", opts: Options{Seed: 4, MTU: 9000, MinRTO: 5 * time.Millisecond},
			faults: Faults{Loss: 0.05, Reorder: 0.05}, reverse: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if stall := bulkTransfer(t, tc.opts, tc.faults, tc.reverse, size); stall != "" {
				t.Fatal(stall)
			}
		})
	}
}

// TestLossyTransfersDoNotStall runs many lossy, reordering transfers with
// no retry. gVisor's sender used to stop for good in about one of 20-50 of
// them (SndUna < SndNxt, Outstanding 0, every timer disabled: a window
// below one MSS after an RTO, and the window update lost); the link's
// persist probe (persist.go) must get every one of them to the end.
func TestLossyTransfersDoNotStall(t *testing.T) {
	runs, size := 24, 16<<20
	if testing.Short() {
		runs = 8
	}
	var probes uint64
	for i := 0; i < runs; i++ {
		opts := Options{Seed: int64(100 + i), MTU: 9000, MinRTO: 5 * time.Millisecond}
		n, stall := bulkTransferNet(t, opts, Faults{Loss: 0.05, Reorder: 0.05}, i%2 == 1, size)
		if stall != "" {
			t.Fatalf("transfer %d (seed %d): %s", i, opts.Seed, stall)
		}
		probes += n.Stats().Probes
	}
	t.Logf("%d lossy transfers of %d MiB, %d persist probes", runs, size>>20, probes)
}

// bulkTransfer moves size bytes of the pattern over a fresh network and
// checks them byte for byte. It returns a description of the stall when
// no byte arrives for stallAfter.
func bulkTransfer(t *testing.T, opts Options, faults Faults, reverse bool, size int) string {
	_, stall := bulkTransferNet(t, opts, faults, reverse, size)
	return stall
}

func bulkTransferNet(t *testing.T, opts Options, faults Faults, reverse bool, size int) (*Network, string) {
	const stallAfter = 10 * time.Second
	n := newNet(t, opts)
	cli, srv := pipe(t, n, "10.0.0.1", "10.0.0.2:80")
	require.NoError(t, n.SetFaults(faults))
	w, r := cli, srv
	if reverse {
		w, r = srv, cli
	}
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewSource(opts.Seed))
		off := 0
		for off < size {
			k := 1 + rng.Intn(64<<10)
			if k > size-off {
				k = size - off
			}
			p := off % len(pattern)
			chunk := pattern[p:]
			if len(chunk) > k {
				chunk = chunk[:k]
			}
			if _, err := w.Write(chunk); err != nil {
				errc <- err
				return
			}
			off += len(chunk)
		}
		errc <- w.CloseWrite()
	}()
	buf := make([]byte, 48<<10)
	got := 0
	for {
		// A stalled transfer is reported instead of hanging the test
		// binary.
		require.NoError(t, r.SetReadDeadline(time.Now().Add(stallAfter)))
		k, err := r.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			used, _ := sendQueued(w.ep)
			var ti tcpip.TCPInfoOption
			w.ep.GetSockOpt(&ti)
			stall := fmt.Sprintf("stalled after %d bytes: writer %v (%d bytes queued, %+v, sender internals %s, peer zero window %v), reader %v (%d readable); %s; link %+v",
				got, w.Raw().State(), used, ti, senderInternals(w), n.link.zeroWindow(w.key), r.Raw().State(), r.Raw().Readable(), n.BusyReason(), n.Stats())
			w.Abort()
			r.Close()
			return n, stall
		}
		if k > 0 {
			if err := checkPattern(buf[:k], got); err != nil {
				t.Fatal(err)
			}
			got += k
		}
		if err != nil {
			require.ErrorContains(t, err, "EOF")
			break
		}
	}
	require.NoError(t, <-errc)
	require.Equal(t, size, got)
	st := n.Stats()
	t.Logf("%d MiB in %v; link %+v", size>>20, time.Since(start).Round(time.Millisecond), st)
	if faults.Loss > 0 {
		require.NotZero(t, st.Lost)
		require.NotZero(t, st.Reordered)
	}
	return n, ""
}

func checkPattern(b []byte, off int) error {
	for len(b) > 0 {
		p := off % len(pattern)
		want := pattern[p:]
		if len(want) > len(b) {
			want = want[:len(b)]
		}
		if !bytes.Equal(b[:len(want)], want) {
			return fmt.Errorf("stream corrupt at byte %d", off)
		}
		b = b[len(want):]
		off += len(want)
	}
	return nil
}

// senderInternals reads a few fields of gVisor's TCP sender for a stall
// report; gVisor exports no way to see them.
func senderInternals(c *Conn) string {
	ev := reflect.ValueOf(c.ep).Elem().FieldByName("snd")
	if !ev.IsValid() || ev.IsNil() {
		return "?"
	}
	sv := reflect.NewAt(ev.Type(), unsafe.Pointer(ev.UnsafeAddr())).Elem().Elem()
	var out []string
	for _, name := range []string{"SndWnd", "SndUna", "SndNxt", "Outstanding", "SndCwnd", "FastRecovery", "zeroWindowProbing", "resendTimer", "probeTimer", "reorderTimer", "state"} {
		f := sv.FieldByName(name)
		if !f.IsValid() {
			continue
		}
		out = append(out, fmt.Sprintf("%s=%+v", name, reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()))
	}
	return strings.Join(out, " ")
}
