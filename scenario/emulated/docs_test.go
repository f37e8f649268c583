package emulated_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// yamlBlock is one ```yaml block of a Markdown file.
type yamlBlock struct {
	line int // of the opening fence
	text string
}

func yamlBlocks(t *testing.T, path string) []yamlBlock {
	t.Helper()
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []yamlBlock
	var cur *yamlBlock
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(l) == "```yaml":
			cur = &yamlBlock{line: n}
		case cur != nil && strings.TrimSpace(l) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "%s: a yaml block opened at line %d is never closed", path, lineOf(cur))
	return out
}

func lineOf(b *yamlBlock) int {
	if b == nil {
		return 0
	}
	return b.line
}

// Every yaml example of docs/scenarios.md is a whole scenario file that
// parses, validates against its objects and passes on skmsg, so the
// reference cannot drift from the code.
func TestDocsScenarioExamples(t *testing.T) {
	doc := filepath.Join(testobj.Root(), "docs", "scenarios.md")
	blocks := yamlBlocks(t, doc)
	require.NotEmpty(t, blocks, "%s has no yaml examples", doc)
	for _, b := range blocks {
		t.Run(fmt.Sprintf("line%d", b.line), func(t *testing.T) {
			// Errors name docs/scenarios.md; object paths resolve from docs/.
			sc, err := scenario.ParseBytes(doc, []byte(b.text))
			require.NoError(t, err, "%s:%d: the example does not parse", doc, b.line)
			require.NoError(t, sc.Validate(), "%s:%d: the example does not validate", doc, b.line)
			res, err := scenario.Run(sc, &emulated.Backend{}, scenario.Options{})
			require.NoError(t, err, "%s:%d", doc, b.line)
			require.True(t, res.Passed(), "%s:%d: the example fails on skmsg:\n%s", doc, b.line, res.Summary())
		})
	}
}
