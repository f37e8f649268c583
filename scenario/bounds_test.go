package scenario

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 1 MB file whose iov names one 1 MiB string 2,048 times once drove the
// parser to 9.4 GB: it is refused at once, and parsing it allocates about
// what the file holds.
func TestAliasAmplificationRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: laughs\nobject: x.o\nx: &big \"")
	b.WriteString(strings.Repeat("A", 1<<20))
	b.WriteString("\"\nsteps:\n  - send: {socket: a.client, iov: [")
	for i := 0; i < 2048; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("*big")
	}
	b.WriteString("]}\n")
	src := []byte(b.String())

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ParseBytes("laughs.yaml", src)
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aliases expand this")
	assert.Less(t, len(err.Error()), 1000, "the message carries no payload")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "parsing allocated %d bytes", after.TotalAlloc-before.TotalAlloc)
}

// A few aliases of a small value are fine.
func TestSmallAliasesAccepted(t *testing.T) {
	_, err := ParseBytes("ok.yaml", []byte(`
name: aliases
object: x.o
connections: [{name: a}]
steps:
  - send: &s {socket: a.client, data: "hello"}
  - send: *s
`))
	if err != nil {
		assert.NotContains(t, err.Error(), "aliases expand")
	}
}

func TestPayloadBounds(t *testing.T) {
	for _, tc := range []struct {
		name, steps, want string
	}{
		{"one step over its bound", fmt.Sprintf(`
  - send: {socket: a.client, iov: [{size: %d, pattern: zero}, {size: %d, pattern: zero}]}`, 1<<30, 1<<30),
			"over the limit of 268435456 per step"},
		{"a file over its bound", strings.Repeat(`
  - send: {socket: a.client, size: 268435456, pattern: zero}`, 5),
			"over the limit of 1073741824 per file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBytes("big.yaml", []byte("name: big\nobject: x.o\nconnections: [{name: a}]\nsteps:"+tc.steps+"\n"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Values quoted in messages are shortened, and one file lists at most
// maxErrors problems.
func TestErrorMessagesStaySmall(t *testing.T) {
	long := strings.Repeat("x", 20000)
	var b strings.Builder
	b.WriteString("name: errors\nobject: x.o\nsteps:\n")
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&b, "  - sockopt: {socket: a.client, name: %s, value: 1}\n", long)
	}
	_, err := ParseBytes("errors.yaml", []byte(b.String()))
	require.Error(t, err)
	var list ErrorList
	require.ErrorAs(t, err, &list)
	assert.LessOrEqual(t, len(list), maxErrors+1)
	assert.Less(t, len(err.Error()), 1200*(maxErrors+1))
	assert.Contains(t, err.Error(), "(20000 bytes)")
}
