package scenario

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/errno"
)

// Options change how a scenario runs.
type Options struct {
	// Seed overrides the file's seed when set.
	Seed *uint64
	// IdleTimeout bounds each wait for idle on backends that poll (the
	// kernel); 0 means 2s.
	IdleTimeout time.Duration
	// BeforeStep, when set, is called before each step of steps: with
	// the step and its description; a debugger stops the scenario there.
	BeforeStep func(s *Step, desc string)
	// StepTimeout bounds each step, its wait for idle included; 0 means
	// DefaultStepTimeout. FileTimeout bounds the whole run; 0 means
	// DefaultFileTimeout. When one passes, the step fails saying what it
	// was blocked on and the steps after it are not run.
	StepTimeout, FileTimeout time.Duration
	// Progress, when set, hears about long steps (streams) now and then.
	Progress func(p Progress)
	// Now, when set, is the clock of the deadlines and step times instead
	// of time.Now: a debugger's, which stands still while it holds the
	// scenario stopped. The backend's waits must use the same clock (the
	// emulated backend's Debug).
	Now func() time.Time
}

// Default deadlines: generous for a loaded CI machine, short enough that a
// hang ends a job with a report instead of a killed process.
const (
	DefaultStepTimeout = 30 * time.Second
	DefaultFileTimeout = 10 * time.Minute
)

// Progress is where a long step stands.
type Progress struct {
	File     string
	Step     int // 1-based, in steps:
	Line     int
	Desc     string
	Sent     int64
	Received int64
	Size     int64
}

// RunFile loads a scenario file and runs it on a backend. The error is for
// a file or object that cannot be used (or a backend that cannot start); a
// failing expectation is in the Result.
func RunFile(path string, b Backend, opts Options) (*Result, error) {
	sc, err := Load(path)
	if err != nil {
		return nil, err
	}
	return Run(sc, b, opts)
}

// Run runs a scenario on a backend, validating it first if it was not.
func Run(sc *Scenario, b Backend, opts Options) (res *Result, err error) {
	if !sc.validated {
		if err := sc.Validate(); err != nil {
			return nil, err
		}
	}
	seed := sc.Seed
	if opts.Seed != nil {
		seed = *opts.Seed
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = DefaultStepTimeout
	}
	if opts.FileTimeout <= 0 {
		opts.FileTimeout = DefaultFileTimeout
	}
	sess, err := b.NewSession(&Env{Scenario: sc, Addresses: sc.Addresses, Seed: seed, IdleTimeout: opts.IdleTimeout, CPUs: sc.CPUs})
	if err != nil {
		return nil, fmt.Errorf("%s: starting %s backend: %w", sc.File, b.Name(), err)
	}
	r := &runner{
		sc:      sc,
		sess:    sess,
		seed:    seed,
		sockets: map[string]SocketID{},
		cookies: map[uint64]string{},
		loaded:  map[ProgID]bool{},
		res:     &Result{Scenario: sc.Name, File: sc.File, Backend: b.Name(), Seed: seed},

		idleTimeout: opts.IdleTimeout,
		beforeStep:  opts.BeforeStep,
		now:         opts.Now,
		stepTimeout: opts.StepTimeout,
		fileTimeout: opts.FileTimeout,
		progress:    opts.Progress,
	}
	// Closed even if a step panics: a kernel session holds a network
	// namespace, maybe a cgroup, and a lock other sessions wait for.
	defer func() {
		if cerr := sess.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: closing %s backend: %w", sc.File, b.Name(), cerr)
		}
	}()
	r.run()
	if r.unusable != nil {
		return r.res, fmt.Errorf("%s: cannot be run on %s: %w", sc.File, b.Name(), r.unusable)
	}
	return r.res, nil
}

type runner struct {
	sc      *Scenario
	sess    Session
	seed    uint64
	sockets map[string]SocketID
	cookies map[uint64]string
	loaded  map[ProgID]bool
	res     *Result
	// started is when the step being recorded began.
	started time.Time
	// idleTimeout bounds how long a recv keeps looking for expected bytes
	// on a backend whose idle is approximate.
	idleTimeout time.Duration
	phase       Phase
	number      int
	beforeStep  func(*Step, string)
	now         func() time.Time // the clock of deadlines and step times
	// unusable is set when the backend cannot run something the file
	// needs (an error wrapping errno.ErrNotSupported, such as a program
	// skmsg cannot run): the run stops there and Run returns it, so that
	// the file is reported as unusable rather than failing.
	unusable error

	stepTimeout, fileTimeout time.Duration
	fileDeadline             time.Time
	progress                 func(Progress)
	// stopped says why the run ended early (a deadline); the steps
	// after it are not run.
	stopped string
}

// record adds a step result; msg empty means it passed.
func (r *runner) record(pos Pos, kind, desc string, obs Observation, msg string) {
	r.number++
	obs.Logs = r.sess.Logs()
	if n, ok := r.sess.(Noter); ok {
		obs.Notes = n.Notes()
	}
	now := r.now()
	r.res.Steps = append(r.res.Steps, StepResult{
		Phase: r.phase, Number: r.number, Line: pos.Line, Kind: kind, Desc: desc,
		Pass: msg == "", Message: msg, Obs: obs, Seconds: now.Sub(r.started).Seconds(),
	})
	r.started = now
}

func (r *runner) idle() string {
	if err := r.sess.WaitIdle(); err != nil {
		return fmt.Sprintf("waiting for idle: %v", err)
	}
	return ""
}

// outcome checks an operation's error against the expectation.
func outcome(err error, exp Expect, obs *Observation) string {
	errno, ok := ErrnoOf(err)
	if err != nil {
		obs.Detail = firstLine(err.Error())
	}
	if !ok {
		obs.Errno = "backend error"
		return fmt.Sprintf("backend error: %v", err)
	}
	if errno != 0 {
		obs.Errno = errno.String()
	}
	switch {
	case exp.Errno != 0 && errno == 0:
		seen := "success"
		if obs.Ret != nil {
			seen = fmt.Sprintf("success (ret %d)", *obs.Ret)
		}
		return fmt.Sprintf("expected error %s, got %s", exp.Errno, seen)
	case exp.Errno != 0 && errno != exp.Errno:
		return fmt.Sprintf("expected error %s, got %s (%v)", exp.Errno, errno, err)
	case exp.Errno == 0 && errno != 0:
		return fmt.Sprintf("failed with %s (%v); expected success", errno, err)
	}
	return ""
}

func (r *runner) run() {
	sc := r.sc
	r.started = r.now()
	r.fileDeadline = r.started.Add(r.fileTimeout)
	r.sess.SetDeadline(r.fileDeadline)
	r.phase = PhaseSetup
	for _, d := range sc.MapDefs {
		if d.Created {
			var obs Observation
			r.record(d.Pos, "create_map", "create map "+d.Name, obs, outcome(r.sess.CreateMap(d), Expect{}, &obs))
		}
	}
	for _, o := range sc.Objects {
		var obs Observation
		r.record(o.Pos, "object", "load object "+o.Path, obs, outcome(r.sess.LoadObject(o), Expect{}, &obs))
	}
	for _, p := range sc.Programs {
		if p.OnDemand {
			continue // loaded by the step that first names it
		}
		var obs Observation
		err := r.sess.LoadProgram(p)
		msg := ""
		if p.ExpectRejected {
			if err == nil {
				msg = "expected the program to be rejected, but it loaded"
			}
		} else {
			msg = outcome(err, Expect{}, &obs)
		}
		if errors.Is(err, errno.ErrNotSupported) && r.unusable == nil {
			r.unusable = err
		}
		if err == nil {
			r.loaded[p.ID] = true
		} else {
			// The verifier's words differ between backends; the errno
			// is what compares.
			obs.Errno = "rejected"
			if e, ok := ErrnoOf(err); ok && e != 0 {
				obs.Errno = e.String()
			}
			obs.Detail = firstLine(err.Error())
			obs.Log = verifierLog(err)
		}
		r.record(p.Pos, "program", "load program "+p.Name, obs, msg)
	}
	if r.unusable != nil {
		return
	}
	for _, p := range sc.Programs {
		if p.Attach == ebpf.AttachNone || !r.loaded[p.ID] {
			continue
		}
		var obs Observation
		r.record(p.Pos, "attach", r.attachDesc(p), obs, outcome(r.sess.Attach(p.ID, p.Map, p.Attach), Expect{}, &obs))
	}
	for _, l := range sc.Listeners {
		var obs Observation
		id, addr, err := r.sess.Listen(l.Addr)
		msg := outcome(err, Expect{}, &obs)
		if err == nil {
			r.addSocket(l.Name, id)
		}
		r.record(l.Pos, "listen", fmt.Sprintf("listen %s on %s", l.Name, addr), obs, msg)
	}
	for _, c := range sc.Connections {
		var obs Observation
		msg := ""
		l, _, err := r.sess.Listen(c.Server)
		if msg = outcome(err, Expect{}, &obs); msg == "" {
			cli, srv, err := r.sess.Connect(l, c.Client)
			if msg = outcome(err, Expect{}, &obs); msg == "" {
				r.addSocket(c.Name+".client", cli)
				r.addSocket(c.Name+".server", srv)
			}
			// The pair is established; the listener has no further use
			// and must not linger in anything the scenario observes.
			if err := r.sess.CloseSocket(l); err != nil && msg == "" {
				msg = fmt.Sprintf("closing the listener: %v", err)
			}
		}
		if msg == "" {
			msg = r.idle()
		}
		r.record(c.Pos, "connection", fmt.Sprintf("connect %s (%s → %s)", c.Name, addrString(c.Client), addrString(c.Server)), obs, msg)
	}
	if r.now().After(r.fileDeadline) {
		r.stopped = fmt.Sprintf("the file's deadline (%v) passed during setup", r.fileTimeout)
	}
	r.phase, r.number = PhaseMaps, 0
	for _, s := range sc.Maps {
		if r.stopped != "" {
			break
		}
		r.step(s)
	}
	r.phase, r.number = PhaseSteps, 0
	for _, s := range sc.Steps {
		if r.stopped != "" {
			break
		}
		if r.beforeStep != nil {
			r.beforeStep(s, r.describe(s))
			r.started = r.now() // a stop there is no time of the step
		}
		r.step(s)
	}
	r.sess.SetDeadline(time.Time{})
	r.res.Stopped = r.stopped
	r.dumpMaps()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func addrString(a netip.AddrPort) string {
	if a.Port() == 0 {
		return a.Addr().String()
	}
	return a.String()
}

func (r *runner) attachDesc(p *Program) string {
	if p.Map == NoMap {
		return fmt.Sprintf("%s %s", AttachName(p.Attach), p.Name)
	}
	return fmt.Sprintf("%s %s to %s", AttachName(p.Attach), p.Name, r.sc.MapDefs[p.Map].Name)
}

func (r *runner) addSocket(name string, id SocketID) {
	r.sockets[name] = id
	if c, err := r.sess.Cookie(id); err == nil {
		r.cookies[c] = name
	}
}

func (r *runner) socket(name string) (SocketID, string) {
	id, ok := r.sockets[name]
	if !ok {
		return 0, fmt.Sprintf("socket %s does not exist (its connection failed)", name)
	}
	return id, ""
}

var msgFlags = map[string]int{"MSG_OOB": 0x1, "MSG_DONTWAIT": 0x40, "MSG_EOR": 0x80, "MSG_NOSIGNAL": 0x4000, "MSG_MORE": 0x8000}

func (r *runner) step(s *Step) {
	var obs Observation
	desc := r.describe(s)
	start := r.now()
	deadline, which := start.Add(r.stepTimeout), fmt.Sprintf("the step's deadline (%v)", r.stepTimeout)
	if r.fileDeadline.Before(deadline) {
		deadline, which = r.fileDeadline, fmt.Sprintf("the file's deadline (%v)", r.fileTimeout)
	}
	r.sess.SetDeadline(deadline)
	msg := r.do(s, &obs)
	if m := r.idle(); msg == "" {
		msg = m
	}
	if r.now().After(deadline) {
		// Whatever the step was waiting for is in msg (the backend's
		// words); the run ends here with what it has.
		where := fmt.Sprintf("step %d", r.number+1)
		if r.phase != PhaseSteps {
			where = fmt.Sprintf("%s[%d]", r.phase, r.number+1)
		}
		r.stopped = fmt.Sprintf("%s passed in %s (line %d, %s)", which, where, s.Pos.Line, desc)
		if msg == "" {
			msg = r.stopped
		} else {
			msg = r.stopped + ": " + msg
		}
	}
	r.sess.SetDeadline(r.fileDeadline)
	r.record(s.Pos, string(s.Kind), desc, obs, msg)
}

func (r *runner) describe(s *Step) string {
	switch s.Kind {
	case StepSend:
		n := 0
		for i := range s.IOV {
			n += len(s.IOV[i].Bytes(r.seed))
		}
		return fmt.Sprintf("send %d bytes on %s", n, s.Socket)
	case StepRecv:
		return "recv on " + s.Socket
	case StepLookup, StepDelete:
		return fmt.Sprintf("%s %s[%s]", s.Kind, r.sc.MapDefs[s.Map].Name, s.Key.Text)
	case StepUpdate:
		v := s.SockValue
		if s.Value != nil {
			v = s.Value.Text
		}
		return fmt.Sprintf("update %s[%s] = %s", r.sc.MapDefs[s.Map].Name, s.Key.Text, v)
	case StepEvents:
		return "events of " + r.sc.MapDefs[s.Map].Name
	case StepConnect:
		return fmt.Sprintf("connect %s to %s", s.Name, s.To)
	case StepAttach, StepDetach:
		return fmt.Sprintf("%s %s", s.Kind, r.attachDesc(s.Program))
	case StepShutdown:
		return fmt.Sprintf("shutdown %s %s", s.Socket, []string{"rd", "wr", "rdwr"}[s.How])
	case StepSockopt:
		return fmt.Sprintf("setsockopt %s %s=%d", s.Socket, s.OptName, *s.IntValue)
	case StepStream:
		return fmt.Sprintf("stream %d bytes from %s to %s", s.StreamSize, s.StreamFrom, s.StreamTo)
	}
	return fmt.Sprintf("%s %s", s.Kind, s.Socket)
}

func (r *runner) do(s *Step, obs *Observation) string {
	switch s.Kind {
	case StepSend:
		id, msg := r.socket(s.Socket)
		if msg != "" {
			return msg
		}
		iov := make([][]byte, len(s.IOV))
		for i := range s.IOV {
			iov[i] = s.IOV[i].Bytes(r.seed)
		}
		flags := 0
		for _, f := range s.SendFlags {
			flags |= msgFlags[f]
		}
		n, err := r.sess.Send(id, iov, flags)
		if err == nil {
			ret := int64(n)
			obs.Ret = &ret
		}
		if msg := outcome(err, s.Expect, obs); msg != "" {
			return msg
		}
		if s.Expect.Ret != nil && err == nil && int64(n) != *s.Expect.Ret {
			return fmt.Sprintf("expected ret %d, got %d", *s.Expect.Ret, n)
		}
	case StepRecv:
		return r.recv(s, obs)
	case StepEvents:
		return r.events(s, obs)
	case StepStream:
		return r.stream(s, obs)
	case StepLookup:
		if d := r.sc.MapDefs[s.Map]; d.IsPerCPU() {
			return r.lookupPerCPU(s, d, obs)
		}
		val, err := r.sess.MapLookup(s.Map, s.Key.Bytes)
		if err == nil {
			obs.Value = val
			if len(val) == 8 && r.sc.MapDefs[s.Map].IsSockMap() {
				obs.CookieOf = r.cookies[binary.LittleEndian.Uint64(val)]
			}
		}
		if msg := outcome(err, s.Expect, obs); msg != "" || err != nil {
			return msg
		}
		switch {
		case s.Value != nil && !bytes.Equal(val, s.Value.Bytes):
			return fmt.Sprintf("expected %s, got %s", s.Value.Text, FormatLike(s.Value.Text, val))
		case s.CookieOf != "":
			id, msg := r.socket(s.CookieOf)
			if msg != "" {
				return msg
			}
			c, err := r.sess.Cookie(id)
			if err != nil {
				return fmt.Sprintf("cookie of %s: %v", s.CookieOf, err)
			}
			if len(val) != 8 || binary.LittleEndian.Uint64(val) != c {
				seen := fmt.Sprintf("%x", val)
				if obs.CookieOf != "" {
					seen = "the cookie of " + obs.CookieOf
				}
				return fmt.Sprintf("expected the cookie of %s (%d), got %s", s.CookieOf, c, seen)
			}
		}
	case StepUpdate:
		var v MapValue
		if s.SockValue != "" {
			id, msg := r.socket(s.SockValue)
			if msg != "" {
				return msg
			}
			v = MapValue{Socket: id, IsSocket: true}
		} else {
			v = MapValue{Bytes: s.Value.Bytes}
		}
		return outcome(r.sess.MapUpdate(s.Map, s.Key.Bytes, v, s.MapFlags), s.Expect, obs)
	case StepDelete:
		return outcome(r.sess.MapDelete(s.Map, s.Key.Bytes), s.Expect, obs)
	case StepClose:
		id, msg := r.socket(s.Socket)
		if msg != "" {
			return msg
		}
		return outcome(r.sess.CloseSocket(id), s.Expect, obs)
	case StepConnect:
		l, msg := r.socket(s.To)
		if msg != "" {
			return msg
		}
		cli, srv, err := r.sess.Connect(l, s.Client)
		if err == nil {
			r.addSocket(s.Name+".client", cli)
			r.addSocket(s.Name+".server", srv)
		}
		return outcome(err, s.Expect, obs)
	case StepAttach, StepDetach:
		p := s.Program
		if !r.loaded[p.ID] && r.sc.Programs[p.ID].OnDemand {
			// Loaded on first use; a refusal is this step's answer.
			err := r.sess.LoadProgram(r.sc.Programs[p.ID])
			if errors.Is(err, errno.ErrNotSupported) && r.unusable == nil {
				r.unusable = err
			}
			if err != nil {
				return outcome(err, s.Expect, obs)
			}
			r.loaded[p.ID] = true
		}
		if !r.loaded[p.ID] {
			return fmt.Sprintf("program %s was not loaded", p.Name)
		}
		if s.Kind == StepAttach {
			return outcome(r.sess.Attach(p.ID, p.Map, p.Attach), s.Expect, obs)
		}
		return outcome(r.sess.Detach(p.ID, p.Map, p.Attach), s.Expect, obs)
	case StepFionread:
		id, msg := r.socket(s.Socket)
		if msg != "" {
			return msg
		}
		n, err := r.sess.Fionread(id)
		// As a recv does (see there), an approximate idle may come
		// before a backlog worker delivered the bytes the step expects:
		// look again until they are there or the idle timeout passes.
		if _, approx := r.sess.(ApproximateIdle); approx && s.IntValue != nil {
			deadline := r.now().Add(r.idleTimeout)
			for err == nil && int64(n) < *s.IntValue && !r.now().After(deadline) {
				if m := r.idle(); m != "" {
					return m
				}
				n, err = r.sess.Fionread(id)
			}
		}
		if err == nil {
			ret := int64(n)
			obs.Ret = &ret
		}
		if msg := outcome(err, s.Expect, obs); msg != "" || err != nil {
			return msg
		}
		if s.IntValue != nil && int64(n) != *s.IntValue {
			return fmt.Sprintf("expected FIONREAD %d, got %d", *s.IntValue, n)
		}
	case StepShutdown:
		id, msg := r.socket(s.Socket)
		if msg != "" {
			return msg
		}
		return outcome(r.sess.Shutdown(id, s.How), s.Expect, obs)
	case StepSockopt:
		id, msg := r.socket(s.Socket)
		if msg != "" {
			return msg
		}
		return outcome(r.sess.SetSockopt(id, s.OptName, int(*s.IntValue)), s.Expect, obs)
	}
	return ""
}

// recv reads until max bytes, the end of the stream, or idle.
func (r *runner) recv(s *Step, obs *Observation) string {
	id, msg := r.socket(s.Socket)
	if msg != "" {
		return msg
	}
	var got []byte
	eof := false
	var err error
	var wantLen = -1
	if s.Want != nil {
		wantLen = len(s.Want.Bytes(r.seed))
	}
	_, approx := r.sess.(ApproximateIdle)
	deadline := r.now().Add(r.idleTimeout)
	for {
		want := 0
		if s.Max > 0 {
			want = s.Max - len(got)
		}
		var data []byte
		data, eof, err = r.sess.Recv(id, want, s.Peek)
		got = append(got, data...)
		if err != nil || s.Peek || (s.Max > 0 && len(got) >= s.Max) {
			break
		}
		if len(data) == 0 || eof {
			// Idle on a backend that can only guess it may come early
			// (a worker delayed on a busy machine): while the expected
			// bytes are not all there, look again until the deadline.
			// An end of stream is no exception: a socket shut for
			// reading reads as ended while its psock's backlog worker
			// is still to deliver a redirect to it.
			if !approx || len(got) >= wantLen || r.now().After(deadline) {
				break
			}
		}
		// More may still be on its way (an asynchronous redirect, a
		// segment behind the one just read): read again once idle.
		if m := r.idle(); m != "" {
			return m
		}
	}
	n := len(got)
	ret := int64(n)
	obs.Ret, obs.Len, obs.Data = &ret, &n, got
	if s.EOF != nil || eof {
		obs.EOF = &eof
	}
	if msg := outcome(err, s.Expect, obs); msg != "" || err != nil {
		return msg
	}
	var problems []string
	if s.Want != nil {
		if want := s.Want.Bytes(r.seed); !bytes.Equal(want, got) {
			problems = append(problems, DiffBytes(want, got))
		}
	}
	if s.Expect.Ret != nil && *s.Expect.Ret != ret {
		problems = append(problems, fmt.Sprintf("expected %d bytes, got %d", *s.Expect.Ret, n))
	}
	if s.EOF != nil && *s.EOF != eof {
		if *s.EOF {
			problems = append(problems, "expected the end of the stream, but it is still open")
		} else {
			problems = append(problems, "expected the stream to stay open, but it ended")
		}
	}
	return strings.Join(problems, "\n")
}

// DiffBytes describes how got differs from want: the lengths, the first
// differing offset and both sides around it in hex and printable form.
func DiffBytes(want, got []byte) string {
	off := 0
	for off < len(want) && off < len(got) && want[off] == got[off] {
		off++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "expected %d bytes, got %d; ", len(want), len(got))
	if off == len(want) || off == len(got) {
		fmt.Fprintf(&b, "equal up to offset %d where the shorter one ends\n", off)
	} else {
		fmt.Fprintf(&b, "first difference at offset %d\n", off)
	}
	start := max(0, off-8) &^ 7
	end := off + 16
	fmt.Fprintf(&b, "  expected %s\n", window(want, start, end))
	fmt.Fprintf(&b, "  got      %s", window(got, start, end))
	return b.String()
}

func window(p []byte, start, end int) string {
	if start >= len(p) {
		return fmt.Sprintf("[%d] (ends at %d)", start, len(p))
	}
	end = min(end, len(p))
	var hx, pr strings.Builder
	for i := start; i < end; i++ {
		fmt.Fprintf(&hx, "%02x ", p[i])
		if p[i] >= 0x20 && p[i] < 0x7f {
			pr.WriteByte(p[i])
		} else {
			pr.WriteByte('.')
		}
	}
	more := ""
	if end < len(p) {
		more = " …"
	}
	return fmt.Sprintf("[%d] %s|%s|%s", start, hx.String(), pr.String(), more)
}

// dumpError is how a map that cannot be listed is recorded: by the errno
// when there is one, so that backends whose messages differ (a perf event
// array or socket storage map cannot be iterated on either) compare equal.
func dumpError(err error) string {
	if e, ok := ErrnoOf(err); ok {
		return "cannot list: " + e.String()
	}
	for _, e := range []syscall.Errno{errno.ENOTSUPP, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOENT, errno.EPERM} {
		// cilium/ebpf wraps some errnos in errors that only answer Is.
		if errors.Is(err, e) {
			return "cannot list: " + Errno(e).String()
		}
	}
	return err.Error()
}

// splitPerCPU cuts a per-CPU value as user space reads it (one value per
// CPU, each padded to 8 bytes) into the CPUs' values.
func splitPerCPU(b []byte, valueSize uint32) [][]byte {
	stride := perCPUStride(valueSize)
	var out [][]byte
	for off := 0; stride > 0 && off+int(valueSize) <= len(b); off += stride {
		out = append(out, b[off:off+int(valueSize)])
	}
	return out
}

// dumpMaps records every map's contents at the end of the run.
func (r *runner) dumpMaps() {
	for _, d := range r.sc.MapDefs {
		if d.IsEventMap() {
			continue // its records were read by events steps; nothing to list
		}
		dump := MapDump{Map: d.Name}
		entries, err := r.sess.MapEntries(d.ID)
		if err != nil {
			dump.Error = dumpError(err)
		}
		for _, e := range entries {
			de := DumpEntry{Key: e.Key, Value: e.Value}
			if d.IsPerCPU() {
				// CPU counts differ between backends; the sum does not.
				de.Value = SumWords(splitPerCPU(e.Value, d.Spec.ValueSize), int(d.Spec.ValueSize))
			}
			if d.IsSockMap() && len(e.Value) == 8 {
				if name, ok := r.cookies[binary.LittleEndian.Uint64(e.Value)]; ok {
					de.CookieOf, de.Value = name, nil
				}
			}
			if t := d.Spec.Type; t == ebpf.ArrayOfMaps || t == ebpf.HashOfMaps {
				de.InnerMap, de.Value = true, nil
			}
			dump.Entries = append(dump.Entries, de)
		}
		r.res.Maps = append(r.res.Maps, dump)
	}
}
