package netstack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/skmsg/skmsg/netstack"
)

// A runtime-style wrapper: writes on the client pass through a send hook
// (an sk_msg verdict would run there), and the server's receive side is
// owned by a recv hook that upper-cases what arrives and hands it to the
// application through the ingress queue (a stream verdict would run there).
func Example_hooks() {
	n := netstack.New(netstack.Options{Seed: 1})
	defer n.Close()
	var mu sync.Mutex
	var established []string
	n.SetHooks(netstack.Hooks{
		// Both sides run before Pipe returns, in either order.
		OnEstablished: func(c *netstack.Conn, active bool) {
			mu.Lock()
			defer mu.Unlock()
			established = append(established, fmt.Sprint(c.LocalAddrPort(), " active:", active))
		},
	})
	cli, srv, err := n.Pipe("10.0.0.1", "10.0.0.2:80")
	if err != nil {
		panic(err)
	}
	sort.Strings(established)
	fmt.Println(established)
	cli.Raw().SetSendHook(func(c *netstack.Conn, iov [][]byte, flags int) (int, error) {
		if bytes.HasPrefix(iov[0], []byte("drop")) {
			return 0, errno.EACCES
		}
		return c.Raw().SendTCPv(iov, flags) // PASS
	})
	srv.Raw().SetRecvHook(func(c *netstack.Conn) {
		buf := make([]byte, 4096)
		for {
			k, err := c.Raw().RecvTCP(buf)
			if k > 0 {
				c.Raw().Inject(bytes.ToUpper(buf[:k]))
			}
			if err == io.EOF {
				c.Raw().CloseIngress(nil)
			}
			if err != nil {
				return
			}
		}
	})
	_, err = cli.Write([]byte("drop me"))
	fmt.Println("write:", err)
	cli.Write([]byte("hello"))
	cli.CloseWrite()
	got, _ := io.ReadAll(srv)
	fmt.Printf("server read %q\n", got)
	fmt.Println(n.WaitIdle(context.Background()), cli.Raw().State(), srv.Raw().State())
	// Output:
	// [10.0.0.1:32768 active:true 10.0.0.2:80 active:false]
	// write: permission denied
	// server read "HELLO"
	// <nil> FIN_WAIT2 CLOSE_WAIT
}
