//go:build !linux

package kernel

import (
	"errors"

	"github.com/skmsg/skmsg/scenario"
)

var errNotLinux = errors.New("kernel oracle unavailable: not running on Linux")

// Available says why the kernel cannot be used here.
func Available() error { return errNotLinux }

// Backend is the scenario backend of the running kernel.
type Backend struct{ TracePipe bool }

// New returns the kernel backend.
func New() *Backend { return &Backend{} }

// Name implements scenario.Backend.
func (*Backend) Name() string { return "kernel" }

// NewSession implements scenario.Backend.
func (*Backend) NewSession(*scenario.Env) (scenario.Session, error) { return nil, errNotLinux }
