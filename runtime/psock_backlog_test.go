package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/errno"
	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/netstack"
	"github.com/skmsg/skmsg/runtime"
)

// TestHeldDeliveriesResume writes a megabyte through each receive path
// while nobody reads the far end, so the verdict's deliveries find the
// target full and are held (the psock backlog's -EAGAIN); only then does
// a reader start. Every byte must arrive, in order: a held delivery that
// missed the event that made room (a read of the target, TCP freeing its
// send buffer) would stop the transfer for good. The paths: verdict-only
// (stream_verdict and skb_verdict) and parser + verdict, redirecting to
// another socket's ingress or egress or passing to the socket's own
// ingress, from either side of the connection, with a blocking and a
// non-blocking writer, and with a small and a large receive buffer at the
// reading socket (and send buffer at an egress target).
func TestHeldDeliveriesResume(t *testing.T) {
	const size = 1 << 20
	type mode struct {
		name    string
		parser  bool
		verdict ebpf.AttachType
	}
	modes := []mode{
		{"stream_verdict", false, ebpf.AttachSkSKBStreamVerdict},
		{"skb_verdict", false, ebpf.AttachSkSKBVerdict},
		{"parser", true, ebpf.AttachSkSKBStreamVerdict},
	}
	actions := []string{"ingress", "egress", "pass"}
	for _, m := range modes {
		for _, act := range actions {
			for _, fromServer := range []bool{true, false} {
				for _, nonblock := range []bool{false, true} {
					for _, rcvbuf := range []int{64 << 10, 4 << 20} {
						name := fmt.Sprintf("%s/%s/server=%v/nonblock=%v/rcvbuf=%d", m.name, act, fromServer, nonblock, rcvbuf)
						t.Run(name, func(t *testing.T) {
							if testing.Short() && rcvbuf > 1<<20 && nonblock {
								t.Skip("-short: the large buffer with a non-blocking writer adds nothing the others miss")
							}
							heldDeliveries(t, size, m.parser, m.verdict, act, fromServer, nonblock, rcvbuf)
						})
					}
				}
			}
		}
	}
}

func heldDeliveries(t *testing.T, size int, parser bool, verdict ebpf.AttachType, act string, fromServer, nonblock bool, rcvbuf int) {
	obj, err := loader.Open(testobj.Path("rx", "strp.o"))
	require.NoError(t, err)
	rt := runtime.New(runtime.Options{Network: netstack.Options{MTU: 65535, ChecksumOffload: true}})
	t.Cleanup(func() { rt.Close() })
	coll, err := rt.Load(obj)
	require.NoError(t, err)
	sm, ok := coll.SockMap("sock_map")
	require.True(t, ok)
	if parser {
		require.NoError(t, rt.Attach(coll.Programs["parser_fixed"], sm, ebpf.AttachSkSKBStreamParser))
	}
	prog := "verdict_cfg"
	if verdict == ebpf.AttachSkSKBVerdict {
		prog = "skb_verdict_cfg"
	}
	require.NoError(t, rt.Attach(coll.Programs[prog], sm, verdict))
	// config: parser frame (4096 bytes, a divisor of size; 0 would be
	// skb->len), action (1 pass, 2 redirect), redirect key, flags.
	const frame = 4096
	cfg := []uint32{frame, 2, 1, 0}
	switch act {
	case "pass":
		cfg[1] = 1
	case "ingress":
		cfg[3] = 1 // BPF_F_INGRESS
	}
	for k, v := range cfg {
		require.NoError(t, coll.Maps["config"].Put(uint32(k), v))
	}
	ac, as, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
	require.NoError(t, err)
	bc, bs, err := rt.Net().Pipe("10.0.0.3", "10.0.0.4:80")
	require.NoError(t, err)
	// The writer's peer runs the receive programs; the target is b.client.
	writer, source := ac, as
	if !fromServer {
		writer, source = as, ac
	}
	require.NoError(t, sm.Update(uint32(0), source, 0))
	require.NoError(t, sm.Update(uint32(1), bc, 0))
	reader := map[string]*runtime.Socket{"ingress": bc, "egress": bs, "pass": source}[act]
	require.NoError(t, reader.SetSockopt("SO_RCVBUF", rcvbuf))
	if act == "egress" {
		// The target's send buffer as small, so egress deliveries find
		// it full and wait for TCP to free it.
		require.NoError(t, bc.SetSockopt("SO_SNDBUF", rcvbuf))
	}

	want := make([]byte, size)
	rand.New(rand.NewSource(int64(size))).Read(want)
	idle := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return rt.Net().Netstack().WaitIdle(ctx)
	}
	// started: the writer has written what it can with nobody reading.
	started := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		werr <- func() error {
			if !nonblock {
				// A blocking write of everything: it returns once the
				// reader made room for the rest.
				close(started)
				n, err := writer.Write(want)
				if err != nil || n != size {
					return fmt.Errorf("write: %d of %d bytes: %w", n, size, err)
				}
				return nil
			}
			done, first := 0, true
			for done < size {
				n, err := writer.SendMsg([][]byte{want[done:]}, netstack.MSG_DONTWAIT)
				done += n
				if errors.Is(err, errno.EAGAIN) {
					if first {
						close(started)
						first = false
					}
					if err := idle(); err != nil {
						return fmt.Errorf("waiting to write again after %d of %d bytes: %w", done, size, err)
					}
					continue
				}
				if err != nil {
					return fmt.Errorf("write after %d of %d bytes: %w", done, size, err)
				}
			}
			if first {
				close(started)
			}
			return nil
		}()
	}()
	<-started
	// Nobody reads yet: the network settles with deliveries held.
	require.NoError(t, idle(), "with nothing read yet")
	require.NoError(t, reader.SetReadDeadline(time.Now().Add(2*time.Minute)))
	got := make([]byte, 0, size)
	buf := make([]byte, 64<<10)
	for len(got) < size {
		n, err := reader.Read(buf)
		got = append(got, buf[:n]...)
		require.NoError(t, err, "read after %d of %d bytes", len(got), size)
	}
	require.NoError(t, <-werr)
	require.True(t, bytes.Equal(want, got), "the bytes read differ from those written")
}
