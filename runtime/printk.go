package runtime

import "github.com/skmsg/skmsg/vm"

// PrintkEvent is one line a program printed with bpf_trace_printk
// (bpf_printk) or bpf_trace_vprintk.
type PrintkEvent struct {
	// Program is the program that printed: after a tail call, the program
	// tail-called into. Nil when it belongs to no collection of the
	// runtime.
	Program *Program
	// Socket is the socket the program ran for.
	Socket *Socket
	// Text is the formatted line as the program printed it (the kernel's
	// trace buffer adds a newline when it lacks one).
	Text string
}

// printk is the generic helpers' printk sink: it names the program and
// socket of the run and hands the line to Options.Printk.
func (rt *Runtime) printk(m *vm.Machine, text string) {
	ev := PrintkEvent{Text: text}
	if st, ok := m.User.(*runState); ok {
		ev.Socket = st.sk
		if vp := m.Program(); vp != nil && st.coll != nil {
			if p := st.coll.Programs[vp.Name]; p != nil && p.VM == vp {
				ev.Program = p
			}
		}
	}
	rt.opts.Printk(&ev)
}
