package debugger

// Target is a scenario prepared for a debug run: the front ends create an
// engine from its Config (adding their Notify) and run it.
type Target interface {
	// Config is what the engine needs to know before the run: the steps,
	// where sources are, the maps.
	Config() Config
	// Run runs the scenario to its end with every program run traced by
	// e and e's hook between steps; it returns once the scenario is done.
	Run(e *Engine) (Outcome, error)
}

// Outcome is how a debugged scenario ended.
type Outcome struct {
	Passed bool
	// Report is the scenario's report, as skmsg-run run prints it.
	Report string
}

// Opener prepares the scenario file at path.
type Opener func(path string) (Target, error)
