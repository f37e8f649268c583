package debugger

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/vm"
)

const debugC = "../testdata/debug/debug.c"

// markerLine returns the line of debug.c carrying "break: NAME".
func markerLine(t testing.TB, name string) int {
	t.Helper()
	f, err := os.Open(debugC)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), "break: "+name+" ") {
			return n
		}
	}
	t.Fatalf("no marker %q in %s", name, debugC)
	return 0
}

// fixture runs msg_debug on the bare vm: a sk_msg_md with size set, the
// sizes map as one 8-byte region served by map_lookup_elem.
type fixture struct {
	space *vm.Space
	prog  *vm.Program
	mu    sync.Mutex
	value []byte // the value the last finished run left in the map
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	obj, err := loader.Open("../testdata/debug/debug.o")
	require.NoError(t, err)
	p, err := obj.Program("msg_debug")
	require.NoError(t, err)
	fx := &fixture{space: vm.NewSpace(), value: make([]byte, 8)}
	// Each run gets its own map value: two runs at once (all-stop tests)
	// would otherwise write one buffer from two goroutines, which the
	// runtime never does (it runs one program at a time).
	helpers := vm.Helpers{asm.FnMapLookupElem: {ID: asm.FnMapLookupElem, Name: "map_lookup_elem",
		Fn: func(m *vm.Machine, r1, r2, r3, r4, r5 uint64) (uint64, error) {
			return m.AddRegion(vm.Region{Name: "map_value(sizes)", Data: m.User.([]byte), Perm: vm.PermRW}), nil
		}}}
	fx.prog, err = vm.Prepare(fx.space, p.Name, p.Instructions, vm.Options{Helpers: helpers,
		ResolveImm64: func(pc int, ins asm.Instruction) (uint64, error) { return vm.Addr(vm.HandleBase, 1), nil }})
	require.NoError(t, err)
	return fx
}

// run runs the program with msg->size = size on a goroutine and returns
// a channel with its result.
func (fx *fixture) run(e *Engine, size uint32) <-chan error {
	done := make(chan error, 1)
	go func() {
		m := fx.space.NewMachine()
		value := make([]byte, 8)
		m.User = value
		m.SetTracer(e)
		ctx := make([]byte, 80)
		binary.LittleEndian.PutUint32(ctx[68:], size)
		addr := m.AddRegion(vm.Region{Name: "sk_msg_md", Data: ctx, Perm: vm.PermRead})
		r0, err := m.Run(fx.prog, addr)
		if err == nil && r0 != 1 {
			err = fmt.Errorf("returned %d", r0)
		}
		fx.mu.Lock()
		copy(fx.value, value)
		fx.mu.Unlock()
		done <- err
	}()
	return done
}

// events collects an engine's events.
type events struct{ ch chan Event }

func newEvents() *events { return &events{ch: make(chan Event, 100)} }

func (ev *events) notify(e Event) { ev.ch <- e }

// stopped waits for the next stop.
func (ev *events) stopped(t testing.TB) Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev.ch:
			if e.Kind == EventStopped {
				return e
			}
		case <-deadline:
			t.Fatal("no stopped event within 10s")
		}
	}
}

func waitDone(t testing.TB, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end within 10s")
	}
}

func top(t testing.TB, e *Engine, tid int) Frame {
	t.Helper()
	fs, err := e.Stack(tid)
	require.NoError(t, err)
	require.NotEmpty(t, fs)
	return fs[0]
}

func eval(t testing.TB, e *Engine, tid int, x string) string {
	t.Helper()
	v, err := e.Eval(tid, 0, x)
	require.NoError(t, err, x)
	return v
}

func TestLineBreakpointStepsAndVariables(t *testing.T) {
	fx := newFixture(t)
	ev := newEvents()
	e := New(Config{Notify: ev.notify, SourceRoots: []string{"../testdata/debug"}})
	e.AddProgram(fx.prog)
	bps := e.SetBreakpoints(BreakLine, "debug.c", []BreakSpec{{Line: markerLine(t, "msg")}})
	require.Len(t, bps, 1)
	require.True(t, bps[0].Verified, bps[0].Message)
	assert.Equal(t, markerLine(t, "msg"), bps[0].Line)

	done := fx.run(e, 11)
	st := ev.stopped(t)
	assert.Equal(t, ReasonBreakpoint, st.Reason)
	assert.Equal(t, []int{bps[0].ID}, st.Breakpoints)
	f := top(t, e, st.Thread)
	assert.Equal(t, "msg_debug", f.Func)
	assert.Equal(t, markerLine(t, "msg"), f.Line)
	assert.Contains(t, f.File, "testdata/debug/debug.c")
	assert.Contains(t, f.Text, "msg->size")

	// The context by field, in each spelling; r1 is the context pointer.
	assert.Equal(t, "11 (0xb)", eval(t, e, st.Thread, "msg->size"))
	assert.Equal(t, "11 (0xb)", eval(t, e, st.Thread, "ctx.size"))
	assert.Equal(t, "1", eval(t, e, st.Thread, "msg->size == 11"))
	assert.Equal(t, "11 (0xb)", eval(t, e, st.Thread, "u32[r1 + 68]"), "the load msg->size compiles to")
	assert.Contains(t, eval(t, e, st.Thread, "r1"), "(sk_msg_md+0)")
	assert.Contains(t, eval(t, e, st.Thread, "r10"), "(fp+0 of frame 0)")
	_, err := e.Eval(st.Thread, 0, "msg->nosuch")
	assert.ErrorContains(t, err, `struct sk_msg_md has no field "nosuch"`)
	scopes, err := e.Scopes(st.Thread, 0)
	require.NoError(t, err)
	var names []string
	for _, s := range scopes {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"Registers", "Context (sk_msg_md)", "Stack", "Packet", "Maps"}, names)

	// next: the call line; step in: add_size, two frames; finish: back.
	require.NoError(t, e.StepOver(Line))
	st = ev.stopped(t)
	assert.Equal(t, ReasonStep, st.Reason)
	assert.Equal(t, markerLine(t, "call"), top(t, e, st.Thread).Line)
	require.NoError(t, e.StepIn(Line))
	st = ev.stopped(t)
	fs, err := e.Stack(st.Thread)
	require.NoError(t, err)
	require.Len(t, fs, 2)
	assert.Equal(t, "add_size", fs[0].Func)
	assert.Equal(t, "msg_debug", fs[1].Func)
	assert.Equal(t, markerLine(t, "call"), fs[1].Line)
	// The caller's r6..r9 are known in its frame, r1 is not.
	_, err = e.Eval(st.Thread, 1, "r1")
	assert.ErrorContains(t, err, "not known")
	require.NoError(t, e.StepOut())
	st = ev.stopped(t)
	fs, err = e.Stack(st.Thread)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	assert.Equal(t, "msg_debug", fs[0].Func)
	assert.Equal(t, "11 (0xb)", eval(t, e, st.Thread, "r0"), "add_size returned the total")

	// stepi moves one instruction.
	pc := top(t, e, st.Thread).PC
	require.NoError(t, e.StepIn(Instruction))
	st = ev.stopped(t)
	assert.Equal(t, pc+1, top(t, e, st.Thread).PC)

	require.NoError(t, e.Continue())
	waitDone(t, done)
	assert.Equal(t, uint64(11), binary.LittleEndian.Uint64(fx.value))
	assert.ErrorIs(t, e.Continue(), errRunning)
}

func TestConditionalAndOtherBreakpoints(t *testing.T) {
	fx := newFixture(t)
	ev := newEvents()
	e := New(Config{Notify: ev.notify, SourceRoots: []string{"../testdata/debug"}})
	e.AddProgram(fx.prog)
	bps := e.SetBreakpoints(BreakLine, "debug.c", []BreakSpec{{Line: markerLine(t, "msg"), Cond: "msg->size > 100"}})
	require.True(t, bps[0].Verified, bps[0].Message)
	// A small message runs through.
	waitDone(t, fx.run(e, 5))
	// A large one stops.
	done := fx.run(e, 500)
	st := ev.stopped(t)
	assert.Equal(t, "500 (0x1f4)", eval(t, e, st.Thread, "msg->size"))
	require.NoError(t, e.Continue())
	waitDone(t, done)

	// By function (the subprogram), by instruction.
	e.SetBreakpoints(BreakLine, "debug.c", nil)
	fb := e.SetBreakpoints(BreakFunction, "", []BreakSpec{{Func: "add_size"}, {Func: "nosuch"}})
	require.True(t, fb[0].Verified)
	assert.False(t, fb[1].Verified)
	assert.Contains(t, fb[1].Message, "nosuch")
	done = fx.run(e, 1)
	st = ev.stopped(t)
	assert.Equal(t, ReasonFunction, st.Reason)
	assert.Equal(t, "add_size", top(t, e, st.Thread).Func)
	require.NoError(t, e.Continue())
	waitDone(t, done)

	e.SetBreakpoints(BreakFunction, "", nil)
	ib := e.SetBreakpoints(BreakInsn, "", []BreakSpec{{PC: 2}})
	require.True(t, ib[0].Verified, ib[0].Message)
	done = fx.run(e, 1)
	st = ev.stopped(t)
	assert.Equal(t, ReasonInsn, st.Reason)
	assert.Equal(t, 2, top(t, e, st.Thread).PC)
	insns, err := e.Disassemble(top(t, e, st.Thread).Addr, 0, 3)
	require.NoError(t, err)
	require.Len(t, insns, 3)
	assert.Equal(t, 2, insns[0].PC)
	require.NoError(t, e.Continue())
	waitDone(t, done)

	bad := e.SetBreakpoints(BreakInsn, "", []BreakSpec{{PC: 1 << 20}})
	assert.False(t, bad[0].Verified)
	cond := e.SetBreakpoints(BreakInsn, "", []BreakSpec{{PC: 0, Cond: "r1 =="}})
	assert.False(t, cond[0].Verified)
	assert.Contains(t, cond[0].Message, "condition")
}

func TestPauseStopsNextInstruction(t *testing.T) {
	fx := newFixture(t)
	ev := newEvents()
	e := New(Config{Notify: ev.notify})
	e.Pause()
	done := fx.run(e, 3)
	st := ev.stopped(t)
	assert.Equal(t, ReasonPause, st.Reason)
	assert.Equal(t, 0, top(t, e, st.Thread).PC)
	// Detaching lets everything run to the end with no further stop.
	e.SetBreakpoints(BreakFunction, "", []BreakSpec{{Func: "add_size"}})
	e.Detach()
	waitDone(t, done)
}

func TestParseBreakSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want BreakSpec
		err  string
	}{
		{in: "debug.c:17", want: BreakSpec{Kind: BreakLine, File: "debug.c", Line: 17}},
		{in: "17", want: BreakSpec{Kind: BreakLine, Line: 17}},
		{in: "add_size", want: BreakSpec{Kind: BreakFunction, Func: "add_size"}},
		{in: "*12", want: BreakSpec{Kind: BreakInsn, PC: 12}},
		{in: "msg_debug:*3", want: BreakSpec{Kind: BreakInsn, Program: "msg_debug", PC: 3}},
		{in: "step 2", want: BreakSpec{Kind: BreakStep, Step: 2}},
		{in: "debug.c:28 if msg->size == 11", want: BreakSpec{Kind: BreakLine, File: "debug.c", Line: 28, Cond: "msg->size == 11"}},
		{in: "", err: "want FILE:LINE"},
		{in: "step x", err: "step number"},
		{in: "debug.c:0", err: "line number"},
		{in: "f if r1 ==", err: "condition"},
	} {
		got, err := ParseBreakSpec(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestExpressions(t *testing.T) {
	env := fakeEnv{regs: [11]uint64{1: 5, 2: ^uint64(0)}}
	for _, tc := range []struct {
		in   string
		want uint64
		err  string
	}{
		{in: "r1", want: 5},
		{in: "r1 + 2 == 7", want: 1},
		{in: "r2 < 0", want: 1},
		{in: "r1 > 3 && r1 < 6", want: 1},
		{in: "r1 == 4 || !r0", want: 1},
		{in: "(r1 & 4) != 0", want: 1},
		{in: "-1 == r2", want: 1},
		{in: "0x10", want: 16},
		{in: "u32[r1 + 3]", want: 12},
		{in: "u8[0]", want: 1},
		{in: "u64[", err: "ends early"},
		{in: "r11", err: "no register"},
		{in: "r1 +", err: "ends early"},
		{in: "r1 $ 2", err: "unexpected character"},
		{in: "foo", err: "unknown name"},
		{in: "ctx.", err: "field name"},
	} {
		x, err := parseExpr(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		v, err := x.eval(env)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, v, tc.in)
	}
}

type fakeEnv struct{ regs [11]uint64 }

func (f fakeEnv) reg(n int) (uint64, error)     { return f.regs[n], nil }
func (fakeEnv) pc() uint64                      { return 0 }
func (fakeEnv) ctxField(string) (uint64, error) { return 0, nil }
func (fakeEnv) ctxParam() string                { return "msg" }
func (fakeEnv) stack(off int64) (uint64, error) { return 0, nil }

// Breakpoints set before the programs are loaded are checked against the
// scenario's declared programs, and placed when a program first runs.
func TestDeclaredPrograms(t *testing.T) {
	fx := newFixture(t)
	ev := newEvents()
	e := New(Config{Notify: ev.notify, SourceRoots: []string{"../testdata/debug"},
		Declared: []Declared{{Name: "msg_debug", Insns: fx.prog.Insns}}})
	bps := e.SetBreakpoints(BreakLine, "debug.c", []BreakSpec{{Line: markerLine(t, "callee")}, {Line: 2}})
	require.True(t, bps[0].Verified, bps[0].Message)
	assert.False(t, bps[1].Verified, "a comment far from code")
	fb := e.SetBreakpoints(BreakFunction, "", []BreakSpec{{Func: "add_size"}})
	require.True(t, fb[0].Verified, fb[0].Message)

	done := fx.run(e, 7)
	var changed int
	st := func() Event {
		for {
			select {
			case x := <-ev.ch:
				if x.Kind == EventBreakpoint {
					changed++
				}
				if x.Kind == EventStopped {
					return x
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no stop")
			}
		}
	}()
	assert.Equal(t, 2, changed, "both breakpoints placed when the program first ran")
	assert.Equal(t, ReasonFunction, st.Reason)
	require.NoError(t, e.Continue())
	st = ev.stopped(t)
	assert.Equal(t, ReasonBreakpoint, st.Reason)
	assert.Equal(t, markerLine(t, "callee"), top(t, e, st.Thread).Line)
	require.NoError(t, e.Continue())
	waitDone(t, done)
}

// Two runs at once: one stops, the other parks at its next instruction
// (all-stop) and would stop at the same breakpoint; detaching lets both
// finish, the parked one without stopping.
func TestDetachReleasesParkedRuns(t *testing.T) {
	fx := newFixture(t)
	ev := newEvents()
	e := New(Config{Notify: ev.notify})
	e.AddProgram(fx.prog)
	bps := e.SetBreakpoints(BreakFunction, "", []BreakSpec{{Func: "msg_debug"}})
	require.True(t, bps[0].Verified)
	first := fx.run(e, 1)
	st := ev.stopped(t)
	second := fx.run(e, 2)
	// The second run reaches its first instruction and parks there.
	require.Eventually(t, func() bool { return len(e.Threads()) == 3 }, 10*time.Second, time.Millisecond)
	fs, err := e.Stack(st.Thread)
	require.NoError(t, err)
	assert.Equal(t, "msg_debug", fs[0].Func)
	e.Detach()
	waitDone(t, first)
	waitDone(t, second)
	select {
	case x := <-ev.ch:
		assert.NotEqual(t, EventStopped, x.Kind, "no stop after detaching")
	default:
	}
}

// A run that faults stops at the faulting instruction, with the fault as
// the stop's text, before the error reaches the runtime.
func TestFaultStopsAsException(t *testing.T) {
	space := vm.NewSpace()
	p, err := vm.Prepare(space, "faulty", asm.Instructions{
		asm.Mov.Imm(asm.R0, 1),
		asm.LoadMem(asm.R0, asm.R0, 0, asm.Word),
		asm.Return(),
	}, vm.Options{})
	require.NoError(t, err)
	ev := newEvents()
	e := New(Config{Notify: ev.notify})
	done := make(chan error, 1)
	go func() {
		m := space.NewMachine()
		m.SetTracer(e)
		_, err := m.Run(p, 0)
		done <- err
	}()
	st := ev.stopped(t)
	assert.Equal(t, ReasonException, st.Reason)
	assert.Contains(t, st.Text, "unmapped")
	f := top(t, e, st.Thread)
	assert.Equal(t, 1, f.PC, "at the load that faulted")
	assert.Equal(t, "1", eval(t, e, st.Thread, "r0"))
	require.NoError(t, e.Continue())
	select {
	case err := <-done:
		var fault *vm.Fault
		assert.ErrorAs(t, err, &fault, "the run still fails as it would without the debugger")
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end")
	}
}

func (fakeEnv) load(addr uint64, size int) (uint64, error) { return addr + uint64(size), nil }
