//go:build linux

package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nsThread is a goroutine locked to an OS thread that lives in its own
// network namespace. Everything that creates sockets runs on it; the thread
// is discarded when the goroutine ends (it is never unlocked, so the Go
// runtime does not reuse a thread in a foreign namespace).
type nsThread struct {
	work chan func()
	done chan struct{}
}

func newNSThread(addrs []netip.Addr) (*nsThread, error) {
	t := &nsThread{work: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(t.done)
		runtime.LockOSThread()
		// No UnlockOSThread: the thread dies with this goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		if err := setupLoopback(addrs); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for f := range t.work {
			f()
		}
	}()
	if err := <-ready; err != nil {
		<-t.done
		return nil, err
	}
	return t, nil
}

// do runs f on the namespace's thread.
func (t *nsThread) do(f func() error) error {
	errc := make(chan error, 1)
	t.work <- func() { errc <- f() }
	return <-errc
}

func (t *nsThread) stop() {
	close(t.work)
	<-t.done
}

// setupLoopback brings lo up and gives it every address the scenario
// names (127.0.0.0/8 is already local once lo is up).
func setupLoopback(addrs []netip.Addr) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for ioctl: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	idx, err := ifindex(fd, "lo")
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if a.Is4() && a.As4()[0] == 127 || a == netip.IPv6Loopback() {
			continue
		}
		if err := addAddr(idx, a); err != nil {
			return fmt.Errorf("adding %s to lo: %w", a, err)
		}
	}
	for _, a := range addrs {
		if err := waitRoutable(a); err != nil {
			return err
		}
	}
	return nil
}

// waitRoutable waits until a route to a reaches it: IPv6 addresses become
// usable only once address configuration has run in a kernel worker, even
// without duplicate address detection.
func waitRoutable(a netip.Addr) error {
	fam := unix.AF_INET
	if a.Is6() {
		fam = unix.AF_INET6
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = unix.Connect(fd, sockaddr(netip.AddrPortFrom(a, 9)))
		unix.Close(fd)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("address %s did not become reachable on lo: %w", a, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// connectRetrying connects a blocking socket, retrying while the route is
// missing: a fresh namespace's IPv6 routes on lo are installed by a kernel
// worker and can still be settling under load even after waitRoutable saw
// them once.
func connectRetrying(fd int, sa unix.Sockaddr) error {
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := unix.Connect(fd, sa)
		if err != unix.ENETUNREACH || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

func ifindex(fd int, name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("SIOCGIFINDEX %s: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}

// addAddr sends RTM_NEWADDR for a host address on an interface.
func addAddr(ifindex int, a netip.Addr) error {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	if err := unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	family, plen := unix.AF_INET, 32
	raw := a.AsSlice()
	if a.Is6() {
		family, plen = unix.AF_INET6, 128
	}
	attr := func(typ int, data []byte) []byte {
		l := unix.SizeofRtAttr + len(data)
		b := make([]byte, (l+3)&^3)
		binary.NativeEndian.PutUint16(b[0:], uint16(l))
		binary.NativeEndian.PutUint16(b[2:], uint16(typ))
		copy(b[4:], data)
		return b
	}
	body := make([]byte, unix.SizeofIfAddrmsg)
	body[0] = byte(family)
	body[1] = byte(plen)
	body[2] = unix.IFA_F_NODAD | unix.IFA_F_PERMANENT
	body[3] = unix.RT_SCOPE_HOST
	binary.NativeEndian.PutUint32(body[4:], uint32(ifindex))
	body = append(body, attr(unix.IFA_LOCAL, raw)...)
	body = append(body, attr(unix.IFA_ADDRESS, raw)...)
	flags := make([]byte, 4)
	binary.NativeEndian.PutUint32(flags, unix.IFA_F_NODAD|unix.IFA_F_PERMANENT)
	body = append(body, attr(unix.IFA_FLAGS, flags)...)

	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], unix.RTM_NEWADDR)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	binary.NativeEndian.PutUint32(msg[8:], 1)
	msg = append(msg, body...)
	if err := unix.Sendto(s, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(s, buf, 0)
	if err != nil {
		return err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Header.Type == syscall.NLMSG_ERROR && len(m.Data) >= 4 {
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				return unix.Errno(-code)
			}
			return nil
		}
	}
	return fmt.Errorf("no netlink acknowledgement")
}
