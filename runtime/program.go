package runtime

import (
	"sync"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/vm"
)

// Program is a prepared program of a collection.
type Program struct {
	Name    string
	Section string
	Type    ebpf.ProgramType
	// ExpectedAttach is the attach type given at load (from the section).
	ExpectedAttach ebpf.AttachType
	VM             *vm.Program

	coll *Collection
	// changesPktData: the program calls a helper that changes packet
	// data (see pkt_data.go).
	changesPktData bool
}

func (p *Program) String() string { return p.Name }

// run state pooling: a Machine is used by one goroutine at a time, so each
// collection keeps a pool of machines, each with its run state.
type machinePool struct {
	space *vm.Space
	pool  sync.Pool
	setup func(m *vm.Machine)
}

func (mp *machinePool) get() *vm.Machine {
	if m, ok := mp.pool.Get().(*vm.Machine); ok {
		return m
	}
	m := mp.space.NewMachine()
	if mp.setup != nil {
		mp.setup(m)
	}
	return m
}

func (mp *machinePool) put(m *vm.Machine) {
	if st, ok := m.User.(*runState); ok {
		st.resetKernelObjects()
	}
	m.Reset()
	mp.pool.Put(m)
}
