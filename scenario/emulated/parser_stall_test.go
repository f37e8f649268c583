package emulated_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// TestParserStreamDeliversEveryByte streams many small frames through a
// stream parser and a verdict that passes, again and again: every byte a
// sendmsg accepted must reach the reader. It used to stop partway (the
// reader's reads of bytes an earlier strparser read passed pushed the
// copied_seq lag below zero and data_ready stayed silent for the tail).
func TestParserStreamDeliversEveryByte(t *testing.T) {
	size, rounds := 1000000, 10
	if testing.Short() {
		size, rounds = 1000000, 3
	}
	for _, tc := range []struct {
		name, object, parser, verdict, chunk string
	}{
		{"10-byte frames", "parser.o", "prog_parser", "prog_verdict", ""},
		{"whole skbs of 10-byte writes", "stream.o", "parse_whole", "verdict_pass", ", chunk: 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := fmt.Sprintf(`
name: %s through parser and verdict
object: %s
programs:
  - {program: %s, attach: stream_parser, map: sock_map}
  - {program: %s, attach: stream_verdict, map: sock_map}
connections: [{name: a}]
maps: [{map: sock_map, key: u32:0, socket: a.server}]
steps:
  - stream: {from: a.client, to: a.server, size: %d, pattern: random%s}
`, tc.name, tc.object, tc.parser, tc.verdict, size, tc.chunk)
			sc, err := scenario.ParseBytes(scenarioPath("parser_stall.yaml"), []byte(text))
			require.NoError(t, err)
			for i := 0; i < rounds; i++ {
				res, err := scenario.Run(sc, &emulated.Backend{}, scenario.Options{StepTimeout: time.Minute, FileTimeout: 2 * time.Minute})
				require.NoError(t, err, "round %d", i)
				require.True(t, res.Passed(), "round %d: %s", i, res.Summary())
			}
		})
	}
}
