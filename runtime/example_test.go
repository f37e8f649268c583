package runtime_test

import (
	"fmt"
	"sort"
	"time"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/runtime"
)

// The userspace half of a sockmap test, with no root and no kernel BPF:
// load an object, make a network, attach an sk_msg program to a sockmap,
// put sockets in the map, send, and read a map.
func Example() {
	obj, err := loader.Open(testobj.Path("scenarios", "redirect.o"))
	if err != nil {
		panic(err)
	}
	rt := runtime.New(runtime.Options{})
	defer rt.Close()
	coll, err := rt.Load(obj)
	if err != nil {
		panic(err)
	}
	sm, _ := coll.SockMap("sock_map")
	// msg_redir_ingress redirects every message to the receive queue of
	// the socket at sock_map[1].
	if err := rt.Attach(coll.Programs["msg_redir_ingress"], sm, ebpf.AttachSkMsgVerdict); err != nil {
		panic(err)
	}
	a, _, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
	if err != nil {
		panic(err)
	}
	_, b, err := rt.Net().Pipe("10.0.0.3", "10.0.0.4:80")
	if err != nil {
		panic(err)
	}
	if err := sm.Update(uint32(0), a, runtime.UpdateAny); err != nil {
		panic(err)
	}
	if err := sm.Update(uint32(1), b, runtime.UpdateAny); err != nil {
		panic(err)
	}

	n, err := a.Write([]byte("hello")) // runs the sk_msg verdict
	fmt.Println("sent", n, err)

	// The bytes never crossed the wire: they are in b's receive queue.
	buf := make([]byte, 16)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err = b.Read(buf)
	fmt.Printf("b read %q %v\n", buf[:n], err)

	var runs uint64
	if err := coll.Maps["counters"].Lookup(uint32(0), &runs); err != nil {
		panic(err)
	}
	fmt.Println("verdict runs", runs)
	// Output:
	// sent 5 <nil>
	// b read "hello" <nil>
	// verdict runs 1
}

// Load creates an object's maps and prepares its programs; programs the
// kernel's verifier would refuse are listed with the reason.
func ExampleRuntime_Load() {
	obj, err := loader.Open(testobj.Path("scenarios", "redirect.o"))
	if err != nil {
		panic(err)
	}
	rt := runtime.New(runtime.Options{})
	defer rt.Close()
	coll, err := rt.Load(obj)
	if err != nil {
		panic(err)
	}
	var names []string
	for name, p := range coll.Programs {
		names = append(names, fmt.Sprintf("%s (%s)", name, p.Type))
	}
	sort.Strings(names)
	fmt.Println(names, len(coll.Rejected))
	fmt.Println(coll.Maps["sock_map"].Type(), coll.Maps["counters"].Type())
	// Output:
	// [msg_redir_egress (SkMsg) msg_redir_ingress (SkMsg)] 0
	// SockMap Array
}

// Pipe makes an established TCP connection on the virtual network; its
// sockets are net.Conns.
func ExampleNet_Pipe() {
	rt := runtime.New(runtime.Options{})
	defer rt.Close()
	cli, srv, err := rt.Net().Pipe("10.0.0.1", "10.0.0.2:80")
	if err != nil {
		panic(err)
	}
	fmt.Println(cli.LocalAddr(), "->", cli.RemoteAddr())
	if _, err := cli.Write([]byte("ping")); err != nil {
		panic(err)
	}
	buf := make([]byte, 4)
	_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := srv.Read(buf)
	fmt.Printf("%q %v\n", buf[:n], err)
	// Output:
	// 10.0.0.1:32768 -> 10.0.0.2:80
	// "ping" <nil>
}
