package runtime

import (
	"fmt"
	"sync"

	"github.com/skmsg/skmsg/vm"
)

// ProgType is a BPF program type, with the kernel's numbering.
type ProgType uint32

// Program types of the sockmap pipeline.
const (
	ProgTypeSockOps ProgType = 13
	ProgTypeSkSkb   ProgType = 14
	ProgTypeSkMsg   ProgType = 16
)

func (t ProgType) String() string {
	switch t {
	case ProgTypeSockOps:
		return "sock_ops"
	case ProgTypeSkSkb:
		return "sk_skb"
	case ProgTypeSkMsg:
		return "sk_msg"
	}
	return fmt.Sprintf("prog type %d", uint32(t))
}

// AttachType is a BPF attach type, with the kernel's numbering.
type AttachType uint32

// Attach types of the sockmap pipeline.
const (
	CgroupSockOps      AttachType = 3
	SkSkbStreamParser  AttachType = 4
	SkSkbStreamVerdict AttachType = 5
	SkMsgVerdict       AttachType = 7
	SkSkbVerdict       AttachType = 38
)

func (a AttachType) String() string {
	switch a {
	case CgroupSockOps:
		return "sockops"
	case SkSkbStreamParser:
		return "stream_parser"
	case SkSkbStreamVerdict:
		return "stream_verdict"
	case SkMsgVerdict:
		return "sk_msg"
	case SkSkbVerdict:
		return "skb_verdict"
	}
	return fmt.Sprintf("attach type %d", uint32(a))
}

// ParseAttachType accepts the names scenarios use: sk_msg, stream_parser,
// stream_verdict, skb_verdict, sockops.
func ParseAttachType(s string) (AttachType, error) {
	for _, a := range []AttachType{SkMsgVerdict, SkSkbStreamParser, SkSkbStreamVerdict, SkSkbVerdict, CgroupSockOps} {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("unknown attach type %q (want sk_msg, stream_parser, stream_verdict, skb_verdict or sockops)", s)
}

// progTypeOf is the program type an attach type needs
// (attach_type_to_prog_type).
func progTypeOf(a AttachType) ProgType {
	switch a {
	case SkMsgVerdict:
		return ProgTypeSkMsg
	case SkSkbStreamParser, SkSkbStreamVerdict, SkSkbVerdict:
		return ProgTypeSkSkb
	case CgroupSockOps:
		return ProgTypeSockOps
	}
	return 0
}

// Program is a prepared program of a collection.
type Program struct {
	Name    string
	Section string
	Type    ProgType
	// ExpectedAttach is the attach type given at load (from the section).
	ExpectedAttach AttachType
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
