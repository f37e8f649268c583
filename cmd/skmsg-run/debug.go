package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/skmsg/skmsg/debugger"
	"github.com/skmsg/skmsg/debugger/dap"
	"github.com/skmsg/skmsg/debugger/term"
)

func init() {
	register(&command{
		Name:    "debug",
		Summary: "run a scenario under a step debugger (terminal, or DAP for editors)",
		Usage: `usage: skmsg-run debug [options] FILE.yaml
       skmsg-run debug --dap [FILE.yaml]
       skmsg-run debug --listen ADDR [FILE.yaml]

Runs the scenario on skmsg with its BPF programs under a debugger: stop on
C source lines, programs and functions, instructions or before a scenario
step, step by line or instruction (over, into and out of bpf-to-bpf calls),
and look at registers, the stack, context fields (msg->size), the packet and
the maps. While a program is stopped the whole scenario waits, and its
timeouts do not run. See docs/debugging.md.

Without --dap or --listen, a terminal debugger (type 'help' at its prompt).

  --dap           speak the Debug Adapter Protocol on stdin/stdout (editors
                  start the adapter this way); a launch request without
                  arguments runs FILE, {"scenario": PATH} names the file
  --listen ADDR   serve one DAP session on a TCP address (host:port)
  --seed N        seed for random payloads, prandom and link faults
  --step-timeout D, --timeout D
                  deadlines of each step and of the file, as with run
                  (defaults 30s and 10m); time spent stopped does not count
  --history FILE  the terminal's command history (default
                  ~/.skmsg_debug_history; "" keeps none)

Exit status: the scenario's, as with run (0 passed, 1 failed, 2 unusable);
with --dap or --listen 0 once the client disconnected.`,
		Run: runDebug,
	})
}

func runDebug(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("debug", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	dapMode := fs.Bool("dap", false, "DAP on stdin/stdout")
	listen := fs.String("listen", "", "serve DAP on `ADDR`")
	fs.StringVar(&f.seed, "seed", "", "seed (overrides the file's)")
	fs.DurationVar(&f.stepTimeout, "step-timeout", 0, "deadline of each step (default 30s), time stopped excluded")
	fs.DurationVar(&f.fileTimeout, "timeout", 0, "deadline of the file (default 10m), time stopped excluded")
	history := fs.String("history", defaultHistory(), "command history `FILE`")
	fs.Usage = func() { fmt.Fprintln(stderr, strings.TrimSpace(commands["debug"].Usage)) }
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	opts, err := f.seedOption()
	if err == nil && (f.stepTimeout < 0 || f.fileTimeout < 0) {
		err = fmt.Errorf("--step-timeout and --timeout must not be negative")
	}
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run debug: %v\n", err)
		return exitUsage
	}
	if len(files) > 1 {
		fmt.Fprintln(stderr, "skmsg-run debug: want at most one scenario file")
		fs.Usage()
		return exitUsage
	}
	file := ""
	if len(files) == 1 {
		file = files[0]
	}
	open := debugger.ScenarioOpener(opts)
	switch {
	case *dapMode && *listen != "":
		fmt.Fprintln(stderr, "skmsg-run debug: --dap and --listen exclude each other")
		return exitUsage
	case *dapMode:
		srv := &dap.Server{Open: open, File: file}
		if err := srv.Serve(os.Stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "skmsg-run debug: %v\n", err)
			return exitFailure
		}
		return exitOK
	case *listen != "":
		return serveDAP(*listen, &dap.Server{Open: open, File: file}, stderr)
	}
	if file == "" {
		fmt.Fprintln(stderr, "skmsg-run debug: want a scenario file (only --dap and --listen can be told one later)")
		fs.Usage()
		return exitUsage
	}
	t, err := open(file)
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run debug: %v\n", err)
		return exitUsage
	}
	code, err := term.Run(t, file, term.Options{Out: stdout, HistoryFile: *history})
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run debug: %v\n", err)
	}
	return code
}

// serveDAP accepts one client on addr and serves it.
func serveDAP(addr string, srv *dap.Server, stderr io.Writer) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run debug: %v\n", err)
		return exitUsage
	}
	defer l.Close()
	// Editors read the address from here when they start the adapter.
	fmt.Fprintf(stderr, "DAP server listening at: %s\n", l.Addr())
	c, err := l.Accept()
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run debug: accepting a client on %s: %v\n", l.Addr(), err)
		return exitFailure
	}
	defer c.Close()
	if err := srv.Serve(c, c); err != nil {
		fmt.Fprintf(stderr, "skmsg-run debug: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func defaultHistory() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".skmsg_debug_history")
}
