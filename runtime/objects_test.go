package runtime

import (
	"errors"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/runtime/bpf"
)

// failsToOpen lists the objects that loader.Open refuses on purpose.
var failsToOpen = map[string]string{
	"loader/unknown_section.o": "a section that names no program type",
}

// runCounter counts the runs of each program and keeps their faults.
type runCounter struct {
	mu     sync.Mutex
	runs   map[*Program]int
	faults map[*Program][]error
}

func newRunCounter() *runCounter {
	return &runCounter{runs: map[*Program]int{}, faults: map[*Program][]error{}}
}

func (c *runCounter) ProgramRun(ev *RunEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[ev.Program]++
	if ev.Err != nil {
		c.faults[ev.Program] = append(c.faults[ev.Program], ev.Err)
	}
}

func (c *runCounter) count(p *Program) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[p]
}

// TestEveryObject loads every object under testdata/ and runs each
// sk_msg, sk_skb and sock_ops program of it on a real connection: the run
// must happen (the observer sees it) and must not fault. Programs of other
// types load but are not run; programs the verifier would refuse are
// listed with the reason.
func TestEveryObject(t *testing.T) {
	files, err := testobj.Objects()
	require.NoError(t, err)
	require.NotEmpty(t, files)
	root := testobj.Path()
	seen := map[string]bool{}
	for _, f := range files {
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			obj, err := loader.Open(f)
			if why, ok := failsToOpen[rel]; ok {
				seen[rel] = true
				require.ErrorIs(t, err, loader.ErrNotSupported, "%s has %s", rel, why)
				return
			}
			require.NoError(t, err)
			rt := New(Options{})
			coll, err := rt.Load(obj)
			require.NoError(t, err)
			require.NoError(t, rt.Close())

			names := make([]string, 0, len(obj.Programs))
			for n := range obj.Programs {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, name := range names {
				lp := obj.Programs[name]
				_, runnable := progTypes[lp.Type]
				if why, ok := coll.Rejected[name]; ok {
					if !runnable {
						require.ErrorIs(t, why, loader.ErrNotSupported, "%s (%s): a type skmsg cannot run is ErrNotSupported", name, lp.Type)
					}
					if runnable && errors.Is(why, loader.ErrNotSupported) {
						t.Logf("%s (%s): skmsg cannot run it: %v", name, lp.Type, why)
						continue
					}
					if runnable {
						t.Logf("%s (%s): refused as the verifier would: %v", name, lp.Type, why)
					} else {
						t.Logf("%s (%s): loaded, not run: %v", name, lp.Type, why)
					}
					continue
				}
				require.True(t, runnable, "%s (%s) prepared although skmsg cannot run its type", name, lp.Type)
				t.Run(name, func(t *testing.T) { runOnConnection(t, obj, name) })
			}
		})
	}
	for rel := range failsToOpen {
		require.True(t, seen[rel], "%s is no longer under testdata/", rel)
	}
}

// runOnConnection runs program name of obj once on a fresh runtime: an
// sk_msg program on a send, an sk_skb program on a receive (a parser with
// a verdict that passes), a sock_ops program on a connection's setup.
func runOnConnection(t *testing.T, obj *loader.Object, name string) {
	rec := newRunCounter()
	// A stream parser that changes packet data attaches only on the
	// earlier kernel build: emulate that one so that every program runs.
	rt := New(Options{Observer: rec, Kernel: KernelBuild{ParserMayPull: true}})
	t.Cleanup(func() { rt.Close() })
	coll, err := rt.Load(obj)
	require.NoError(t, err)
	p := coll.Programs[name]
	require.NotNil(t, p)

	newMap := func() *SockMap {
		sm, err := rt.NewSockMap(bpf.Spec{Name: "objects_test", Type: ebpf.SockMap, KeySize: 4, ValueSize: 4, MaxEntries: 4})
		require.NoError(t, err)
		return sm
	}
	msg := []byte("every object runs: 0123456789abcdef")
	switch p.Type {
	case ebpf.SkMsg:
		sm := newMap()
		require.NoError(t, rt.Attach(p, sm, ebpf.AttachSkMsgVerdict))
		cli, _, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
		require.NoError(t, err)
		require.NoError(t, sm.Update(uint32(0), cli, UpdateAny))
		// The program's verdict decides what Write returns (EACCES
		// for a drop); only the run matters here.
		_, _ = cli.Write(msg)
	case ebpf.SkSKB:
		sm := newMap()
		switch p.ExpectedAttach {
		case ebpf.AttachSkSKBStreamParser:
			require.NoError(t, rt.Attach(p, sm, ebpf.AttachSkSKBStreamParser))
			vobj, err := loader.Open(testobj.Path("scenarios", "attach.o"))
			require.NoError(t, err)
			vcoll, err := rt.Load(vobj)
			require.NoError(t, err)
			require.NoError(t, rt.Attach(vcoll.Programs["stream_verdict_pass"], sm, ebpf.AttachSkSKBStreamVerdict))
		case ebpf.AttachSkSKBStreamVerdict, ebpf.AttachSkSKBVerdict:
			require.NoError(t, rt.Attach(p, sm, p.ExpectedAttach))
		default:
			require.NoError(t, rt.Attach(p, sm, ebpf.AttachSkSKBVerdict))
		}
		cli, srv, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
		require.NoError(t, err)
		require.NoError(t, sm.Update(uint32(0), srv, UpdateAny))
		_, err = cli.Write(msg)
		require.NoError(t, err)
	case ebpf.SockOps:
		require.NoError(t, rt.AttachSockops(p))
		_, _, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
		require.NoError(t, err)
	default:
		t.Fatalf("%s: type %s prepared but has no way to run here", name, p.Type)
	}
	require.Eventually(t, func() bool { return rec.count(p) > 0 }, 5*time.Second, time.Millisecond,
		"%s (%s, attach %s) never ran", name, p.Type, p.ExpectedAttach)
	require.NoError(t, rt.WaitIdle(time.Now().Add(5*time.Second)))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Empty(t, rec.faults[p], "%s faulted", name)
	t.Logf("%s (%s): %d runs", name, p.Type, rec.runs[p])
}
