package emulated_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// BenchmarkStreamGiB streams 1 GiB through each path of the bundled
// stream files, byte-exact: pass, sk_msg egress and ingress redirect,
// verdict-only redirect to ingress (the bundled file) and to egress, and
// parser + verdict. One iteration is one GiB:
//
//	go test ./scenario/emulated -run '^$' -bench StreamGiB -benchtime 1x -timeout 1h
func BenchmarkStreamGiB(b *testing.B) {
	const size = 1 << 30
	for _, tc := range []struct{ name, file string }{
		{"pass", "stream_pass.yaml"},
		{"egress_redirect", "stream_redirect_egress.yaml"},
		{"ingress_redirect", "stream_redirect_ingress.yaml"},
		{"verdict", "stream_verdict.yaml"},
		{"verdict_egress", ""},
		{"parser_verdict", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var text string
			if tc.file != "" {
				src, err := os.ReadFile(scenarioPath(tc.file))
				require.NoError(b, err)
				// The file's first stream, at 1 GiB; the other steps stay.
				text = strings.Replace(string(src), "size: 8388608,", fmt.Sprintf("size: %d,", size), 1)
			} else if tc.name == "verdict_egress" {
				text = fmt.Sprintf(`
name: verdict egress
object: skbredir.o
programs: [{program: skb_redir_egress, attach: stream_verdict, map: sock_map}]
connections: [{name: a}, {name: b}]
maps: [{map: sock_map, key: u32:0, socket: a.server}, {map: sock_map, key: u32:1, socket: b.client}]
steps:
  - stream: {from: a.client, to: b.server, size: %d, pattern: random}
`, size)
			} else {
				text = fmt.Sprintf(`
name: parser whole
object: stream.o
programs:
  - {program: parse_whole, attach: stream_parser, map: sock_map}
  - {program: verdict_pass, attach: stream_verdict, map: sock_map}
connections: [{name: a}]
maps: [{map: sock_map, key: u32:0, socket: a.server}]
steps:
  - stream: {from: a.client, to: a.server, size: %d, pattern: random}
`, size)
			}
			sc, err := scenario.ParseBytes(scenarioPath("giB.yaml"), []byte(text))
			require.NoError(b, err)
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				res, err := scenario.Run(sc, &emulated.Backend{}, scenario.Options{StepTimeout: time.Hour, FileTimeout: time.Hour})
				require.NoError(b, err)
				if !res.Passed() {
					b.Fatal(res.Summary())
				}
			}
		})
	}
}
