//go:build !linux

// Package oracle runs scenarios on the real kernel; on this system there
// is none to run them on.
package oracle

import (
	"errors"

	"github.com/skmsg/skmsg/runtime/scenario"
)

var errNotLinux = errors.New("kernel oracle unavailable: not running on Linux")

// Available says why the kernel cannot be used here.
func Available() error { return errNotLinux }

// Kernel is the scenario backend of the running kernel.
type Kernel struct{ TracePipe bool }

// New returns the kernel backend.
func New() *Kernel { return &Kernel{} }

// Name implements scenario.Backend.
func (*Kernel) Name() string { return "kernel" }

// NewSession implements scenario.Backend.
func (*Kernel) NewSession(*scenario.Env) (scenario.Session, error) { return nil, errNotLinux }
