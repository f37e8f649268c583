package debugger

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/skmsg/skmsg/scenario"
	"github.com/skmsg/skmsg/scenario/emulated"
)

// OpenScenario prepares a scenario file for a debug run on skmsg's
// runtime (the emulated backend: the kernel cannot be stopped).
func OpenScenario(path string) (Target, error) { return ScenarioOpener(scenario.Options{})(path) }

// ScenarioOpener is OpenScenario with run options (seed, idle timeout;
// BeforeStep is the engine's).
func ScenarioOpener(opts scenario.Options) Opener {
	return func(path string) (Target, error) {
		sc, err := scenario.Load(path)
		if err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(sc.File)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.File, err)
		}
		return &scenarioTarget{sc: sc, file: abs, opts: opts}, nil
	}
}

// scenarioTarget runs a parsed scenario under an engine.
type scenarioTarget struct {
	sc   *scenario.Scenario
	file string
	opts scenario.Options

	mu   sync.Mutex
	sess scenario.Session
}

// Config implements Target.
func (t *scenarioTarget) Config() Config {
	c := Config{ScenarioFile: t.file, Maps: t}
	roots := map[string]bool{}
	addRoot := func(p string) {
		if a, err := filepath.Abs(filepath.Dir(p)); err == nil && !roots[a] {
			roots[a] = true
			c.SourceRoots = append(c.SourceRoots, a)
		}
	}
	addRoot(t.sc.File)
	for _, o := range t.sc.Objects {
		addRoot(o.Path)
	}
	lines := fileLines(t.sc.File)
	for _, s := range t.sc.Steps {
		desc := string(s.Kind)
		if n := s.Pos.Line; n > 0 && n <= len(lines) {
			desc = strings.TrimPrefix(strings.TrimSpace(lines[n-1]), "- ")
		}
		c.Steps = append(c.Steps, StepInfo{Number: s.Number, File: t.file, Line: s.Pos.Line, Desc: desc})
	}
	for _, p := range t.sc.Programs {
		if p.Spec != nil {
			c.Declared = append(c.Declared, Declared{Name: p.Name, Insns: p.Spec.Instructions})
		}
	}
	return c
}

func fileLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// Run implements Target: the scenario on the emulated backend with e as
// its debugger and e's hook before each step.
func (t *scenarioTarget) Run(e *Engine) (Outcome, error) {
	b := &keepSession{Backend: &emulated.Backend{Debug: e}, keep: t.setSession}
	opts := t.opts
	opts.Now = e.Now // deadlines stand still while anything is stopped
	opts.BeforeStep = func(s *scenario.Step, desc string) {
		e.BeforeStep(StepInfo{Number: s.Number, File: t.file, Line: s.Pos.Line, Desc: desc})
	}
	res, err := scenario.Run(t.sc, b, opts)
	t.setSession(nil)
	if err != nil {
		return Outcome{}, err
	}
	var buf bytes.Buffer
	if err := res.WriteText(&buf); err != nil {
		return Outcome{}, err
	}
	return Outcome{Passed: res.Passed(), Report: buf.String()}, nil
}

func (t *scenarioTarget) setSession(s scenario.Session) {
	t.mu.Lock()
	t.sess = s
	t.mu.Unlock()
}

// keepSession hands the session the runner makes to the target, for the
// map views.
type keepSession struct {
	*emulated.Backend
	keep func(scenario.Session)
}

func (k *keepSession) NewSession(env *scenario.Env) (scenario.Session, error) {
	s, err := k.Backend.NewSession(env)
	if err == nil {
		k.keep(s)
	}
	return s, err
}

// MapNames implements MapSource.
func (t *scenarioTarget) MapNames() []string {
	var out []string
	for _, d := range t.sc.MapDefs {
		out = append(out, d.Name)
	}
	return out
}

func (t *scenarioTarget) mapDef(name string) (*scenario.MapDef, scenario.Session, error) {
	t.mu.Lock()
	s := t.sess
	t.mu.Unlock()
	for _, d := range t.sc.MapDefs {
		if d.Name == name {
			if s == nil {
				return nil, nil, fmt.Errorf("map %s: the scenario is not running", name)
			}
			return d, s, nil
		}
	}
	return nil, nil, fmt.Errorf("no map %q (maps: %s)", name, strings.Join(t.MapNames(), ", "))
}

// mapWait bounds a map read: the stopped program may hold a lock the
// read needs (a socket's, say); the read then finishes after the resume.
const mapWait = time.Second

func bounded[T any](name string, f func() (T, error)) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := f()
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(mapWait):
		var zero T
		return zero, fmt.Errorf("map %s is held by the stopped program; look again after it runs on", name)
	}
}

// MapKeySize implements MapSource.
func (t *scenarioTarget) MapKeySize(name string) (int, error) {
	d, _, err := t.mapDef(name)
	if err != nil {
		return 0, err
	}
	return int(d.Spec.KeySize), nil
}

// MapLookup implements MapSource.
func (t *scenarioTarget) MapLookup(name string, key []byte) ([]byte, error) {
	d, s, err := t.mapDef(name)
	if err != nil {
		return nil, err
	}
	return bounded(name, func() ([]byte, error) { return s.MapLookup(d.ID, key) })
}

// MapEntries implements MapSource.
func (t *scenarioTarget) MapEntries(name string) ([][2][]byte, error) {
	d, s, err := t.mapDef(name)
	if err != nil {
		return nil, err
	}
	return bounded(name, func() ([][2][]byte, error) {
		ents, err := s.MapEntries(d.ID)
		if err != nil {
			return nil, err
		}
		out := make([][2][]byte, len(ents))
		for i, e := range ents {
			out[i] = [2][]byte{e.Key, e.Value}
		}
		return out, nil
	})
}
