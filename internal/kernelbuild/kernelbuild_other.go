//go:build !linux

// Package kernelbuild finds out which build of the kernel this process
// runs on; off Linux there is no kernel to probe.
package kernelbuild

import (
	"errors"

	"github.com/skmsg/skmsg/runtime"
)

// Probe says why the kernel cannot be probed here.
func Probe() (runtime.KernelBuild, error) {
	return runtime.KernelBuild{}, errors.New("kernel build probe: not running on Linux")
}
