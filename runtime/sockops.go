package runtime

import "github.com/skmsg/skmsg/netstack"

func (rt *Runtime) onEstablished(c *netstack.Conn, active bool) {}

func (rt *Runtime) onListen(l *netstack.Listener) {}

func (rt *Runtime) AttachSockops(p *Program) error { return nil }
func (rt *Runtime) DetachSockops(p *Program) error { return nil }
