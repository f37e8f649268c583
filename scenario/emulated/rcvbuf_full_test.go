package emulated_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/scenario"
)

// A blocking send toward a receiver with a small SO_RCVBUF that never
// reads: gVisor's receiver drops segments inside its own advertised window
// once their overhead fills its buffer, and the sender retransmits into
// it. That stall must count as idle, so the send ends with its partial
// count as the kernel's send timeout ends it (it used to fail at the
// step's deadline), and the reader then gets exactly the accepted bytes,
// in order.
func TestBlockingSendToSmallReceiveBuffer(t *testing.T) {
	if testing.Short() {
		// Under the race detector (make race runs -short) the stream
		// verdict cases' recv ends before every accepted byte arrived
		// (188,288 of 1,130,368 with SO_RCVBUF=4096): the refusing-peer
		// idle rule can fire while the verdict's consumer is slow to
		// drain TCP. Open bug; the unhurried run in make test holds.
		t.Skip("8 MiB sends into 4-16 KiB buffers; a slow (race) run ends the verdict cases' recv early: known open bug")
	}
	const size = 8 << 20
	paths := []struct{ name, setup string }{
		{name: "no program", setup: `
connections: [{name: a}]`},
		{name: "sk_msg pass", setup: `
object: attach.o
programs: [{program: msg_pass, attach: sk_msg, map: sock_map}]
connections: [{name: a}]
maps: [{map: sock_map, key: u32:0, socket: a.client}]`},
		{name: "stream verdict pass", setup: `
object: attach.o
programs: [{program: stream_verdict_pass, attach: stream_verdict, map: sock_map}]
connections: [{name: a}]
maps: [{map: sock_map, key: u32:0, socket: a.server}]`},
	}
	for _, rcvbuf := range []int{4096, 8192, 16384} {
		for _, p := range paths {
			t.Run(fmt.Sprintf("%s SO_RCVBUF=%d", p.name, rcvbuf), func(t *testing.T) {
				text := fmt.Sprintf(`name: small receive buffer
%s
steps:
  - sockopt: {socket: a.server, name: SO_RCVBUF, value: %d}
  - send: {socket: a.client, size: %d, pattern: seq}
  - recv: {socket: a.server, max: %d}
  - fionread: {socket: a.server, value: 0}
`, p.setup, rcvbuf, size, size)
				res := runInline(t, text, scenario.Options{StepTimeout: 30 * time.Second})
				var send, recv *scenario.StepResult
				for i := range res.Steps {
					switch s := &res.Steps[i]; s.Kind {
					case "send":
						send = s
					case "recv":
						recv = s
					}
				}
				require.NotNil(t, send, res.Summary())
				require.True(t, send.Pass, res.Summary())
				require.NotNil(t, send.Obs.Ret, res.Summary())
				n := *send.Obs.Ret
				assert.Greater(t, n, int64(0), "some bytes fit the buffers")
				assert.Less(t, n, int64(size), "not all of them")
				require.NotNil(t, recv, res.Summary())
				require.True(t, recv.Pass, res.Summary())
				want := make([]byte, n)
				for i := range want {
					want[i] = byte(i)
				}
				got := []byte(recv.Obs.Data)
				require.Equal(t, len(want), len(got), "the reader gets exactly the accepted bytes")
				require.True(t, bytes.Equal(want, got), "the reader gets the accepted bytes in order")
				require.True(t, res.Passed(), res.Summary())
			})
		}
	}
}
