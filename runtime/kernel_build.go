package runtime

import "strings"

// KernelBuild selects, where builds of the kernel skmsg follows differ
// under the same version string, which behaviour the runtime emulates.
// The zero value is the current build of the machines skmsg is checked
// against; internal/kernelbuild probes which one the running kernel is, so
// a comparison with it can emulate that one.
type KernelBuild struct {
	// RemotePortWholeHalf: a 2-byte load of either half of
	// __sk_buff.remote_port yields the whole converted value (port << 16
	// in network order), as the earlier build's conversion did. The
	// current build returns the half that was asked for.
	RemotePortWholeHalf bool
	// ParserMayPull: a stream parser program that calls bpf_skb_pull_data
	// attaches (earlier build). The current build refuses it at attach
	// with EINVAL.
	ParserMayPull bool
	// ListenerSendRunsMsg: a send on a listening socket that is in a map
	// with an sk_msg program runs that program (earlier build). The
	// current build fails it with EPIPE, as for any listener, without
	// running the program.
	ListenerSendRunsMsg bool
}

// String names the variant of each behaviour, for test and tool output.
func (b KernelBuild) String() string {
	pick := func(earlier bool, old, cur string) string {
		if earlier {
			return old
		}
		return cur
	}
	return strings.Join([]string{
		"remote_port half load: " + pick(b.RemotePortWholeHalf, "whole value (earlier build)", "that half (current build)"),
		"stream parser calling bpf_skb_pull_data: " + pick(b.ParserMayPull, "attaches (earlier build)", "EINVAL at attach (current build)"),
		"send on a listener in a sockmap: " + pick(b.ListenerSendRunsMsg, "runs the sk_msg program (earlier build)", "EPIPE, no sk_msg run (current build)"),
	}, "; ")
}
