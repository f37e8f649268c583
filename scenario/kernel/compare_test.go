//go:build linux

package kernel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/kernel"
)

// The kernel agrees with itself: two runs differ in socket cookies and
// descriptor numbers only, which Compare sees through.
func TestCompareKernelWithKernel(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
	sc, err := scenario.Load(testobj.Path("scenarios", "sockops.yaml"))
	require.NoError(t, err)
	c, err := scenario.Compare(sc, kernel.New(), kernel.New(), scenario.Options{})
	require.NoError(t, err)
	require.True(t, c.A.Passed(), c.A.Summary())
	require.True(t, c.Same(), "%v", c.Differences)
	// A different seed changes random payloads: the comparison sees it.
	seed := uint64(1)
	sc2, err := scenario.Load(testobj.Path("scenarios", "redirect_egress.yaml"))
	require.NoError(t, err)
	ra, err := scenario.Run(sc2, kernel.New(), scenario.Options{})
	require.NoError(t, err)
	rb, err := scenario.Run(sc2, kernel.New(), scenario.Options{Seed: &seed})
	require.NoError(t, err)
	d := scenario.Diff(ra, rb)
	require.NotEmpty(t, d)
	require.Equal(t, "data", d[0].What)
}

// A failing expectation names the step, its line and both sides.
func TestFailureMessages(t *testing.T) {
	if err := kernel.Available(); err != nil {
		t.Skip(err)
	}
	src := "object: " + testobj.Path("scenarios", "pass.o") + `
programs:
  - {program: msg_pass, attach: sk_msg, map: sock_map}
connections:
  - name: a
maps:
  - {map: sock_map, key: u32:0, socket: a.client}
steps:
  - send: {socket: a.client, data: "hello world"}
    expect: {error: EACCES}
  - recv: {socket: a.server, data: "hello wOrld"}
  - update: {map: sock_map, key: u32:0, socket: a.server, flags: NOEXIST}
  - recv: {socket: a.server, data: "", eof: true}
`
	sc, err := scenario.ParseBytes(t.TempDir()+"/f.yaml", []byte(src))
	require.NoError(t, err)
	require.NoError(t, sc.Validate())
	res, err := scenario.Run(sc, kernel.New(), scenario.Options{})
	require.NoError(t, err)
	f := res.Failures()
	require.Len(t, f, 4, res.Summary())
	require.Equal(t, "step 1 (line 9) send", f[0].Name())
	require.Equal(t, "expected error EACCES, got success (ret 11)", f[0].Message)
	require.Contains(t, f[1].Message, "first difference at offset 7")
	require.Contains(t, f[1].Message, "|hello wOrld|")
	require.Contains(t, f[2].Message, "expected success")
	require.Contains(t, f[2].Message, "EEXIST")
	require.Equal(t, "expected the end of the stream, but it is still open", f[3].Message)
}
