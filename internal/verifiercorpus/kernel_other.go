//go:build !linux

package verifiercorpus

import (
	"errors"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/loader"
)

var errNoKernel = errors.New("BPF programs load only into a Linux kernel")

// Kernel loads programs into the running kernel; on this GOOS it cannot.
type Kernel struct{}

// KernelAvailable always fails off Linux.
func KernelAvailable() error { return errNoKernel }

// NewKernel returns a Kernel that cannot load anything.
func NewKernel() *Kernel { return &Kernel{} }

// Close does nothing.
func (k *Kernel) Close() error { return nil }

// Load is one kernel load of a program.
type Load struct {
	Verdict Verdict
	Log     []string
	Took    time.Duration
}

// Check fails off Linux.
func (k *Kernel) Check(c Case, known *Verdict) (*Load, error) { return nil, errNoKernel }

// Verify fails off Linux.
func (k *Kernel) Verify(c Case) (*Load, error) { return nil, errNoKernel }

// ProgramMaps fails off Linux.
func ProgramMaps(obj *loader.Object, p *loader.ProgramSpec) (map[string]*ebpf.Map, error) {
	return nil, errNoKernel
}

// CloseMaps does nothing off Linux.
func CloseMaps(maps map[string]*ebpf.Map) {}

// CreateMaps fails off Linux.
func CreateMaps(specs []*loader.MapSpec) (map[string]*ebpf.Map, error) { return nil, errNoKernel }

// LoadInsns fails off Linux.
func LoadInsns(spec *ebpf.ProgramSpec, insns asm.Instructions, maps map[string]*ebpf.Map, quiet bool) (*Load, error) {
	return nil, errNoKernel
}

// Maps fails off Linux.
func (k *Kernel) Maps(obj *loader.Object, p *loader.ProgramSpec) (map[string]*ebpf.Map, func(), error) {
	return nil, nil, errNoKernel
}
