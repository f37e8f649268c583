package runtime

import "github.com/skmsg/skmsg/netstack"

// This file is the extension point of sock_ops: the network's lifecycle
// callbacks. sockops programs are attached to the whole network
// (AttachSockops) and run here with BPF_SOCK_OPS_*_ESTABLISHED_CB and
// TCP_LISTEN_CB.

func (rt *Runtime) onEstablished(c *netstack.Conn, active bool) {}

func (rt *Runtime) onListen(l *netstack.Listener) {}
