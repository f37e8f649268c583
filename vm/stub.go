package vm

import (
	"errors"

	"github.com/cilium/ebpf/asm"
)

var errNotImplemented = errors.New("vm: not implemented")

type spaceImpl struct{}
type programImpl struct{}
type machineImpl struct{}

func newSpace() *Space                     { return &Space{} }
func (s *Space) addGlobal(r Region) uint64 { panic(errNotImplemented) }
func (s *Space) newMachine() *Machine      { return &Machine{} }
func prepare(*Space, string, asm.Instructions, Options) (*Program, error) {
	return nil, errNotImplemented
}
func (p *Program) numInsns() int                                       { return len(p.Insns) }
func (m *Machine) addRegion(r Region) uint64                           { panic(errNotImplemented) }
func (m *Machine) reset()                                              {}
func (m *Machine) run(p *Program, arg uint64) (uint64, error)          { return 0, errNotImplemented }
func (m *Machine) setBudget(n uint64)                                  {}
func (m *Machine) setTracer(t Tracer)                                  {}
func (m *Machine) executed() uint64                                    { return 0 }
func (m *Machine) bytes(addr uint64, n int, perm Perm) ([]byte, error) { return nil, errNotImplemented }
func (m *Machine) tailCall(next *Program) error                        { return errNotImplemented }
func (m *Machine) program() *Program                                   { return nil }
func (f *Fault) error() string                                         { return "fault" }
