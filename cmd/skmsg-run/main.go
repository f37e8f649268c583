// Command skmsg-run runs sockmap BPF programs in user space: scenarios,
// traces, disassembly, comparisons with the kernel. Each subcommand lives in
// its own file and registers itself from init().
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/skmsg/skmsg/loader"
)

// Exit codes of every subcommand.
const (
	exitOK      = 0 // success
	exitFailure = 1 // the command ran and failed (a check did not hold, I/O error)
	exitUsage   = 2 // unusable input: bad arguments, unreadable or unsupported object
)

// command is one subcommand.
type command struct {
	Name    string
	Summary string // one line for the command list
	Usage   string // full help: arguments and options
	// Run executes the command with the arguments after its name and
	// returns the exit code.
	Run func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]*command{}

// register adds a subcommand; called from init() of the file holding it.
func register(c *command) {
	if _, dup := commands[c.Name]; dup {
		panic("skmsg-run: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			c := commands[args[1]]
			if c == nil {
				fmt.Fprintf(stderr, "skmsg-run: unknown command %q\n", args[1])
				usage(stderr)
				return exitUsage
			}
			fmt.Fprintln(stdout, strings.TrimSpace(c.Usage))
			return exitOK
		}
		usage(stdout)
		return exitOK
	}
	c := commands[name]
	if c == nil {
		fmt.Fprintf(stderr, "skmsg-run: unknown command %q\n", name)
		usage(stderr)
		return exitUsage
	}
	if wantsHelp(args[1:]) {
		// Asking for help is a success, whatever the command: handled
		// here so that no command's flag set turns it into a usage error.
		fmt.Fprintln(stdout, strings.TrimSpace(c.Usage))
		return exitOK
	}
	return c.Run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: skmsg-run COMMAND [ARGS]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nRun 'skmsg-run help COMMAND' for a command's options.")
}

// wantsHelp tells whether the options (up to a "--") ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// Helpers shared by the subcommands.

// typeFlags collects repeated --type NAME=TYPE options.
type typeFlags []loader.Option

func (t *typeFlags) String() string { return "" }

func (t *typeFlags) Set(v string) error {
	name, typ, ok := strings.Cut(v, "=")
	if !ok || name == "" || typ == "" {
		return fmt.Errorf("want NAME=TYPE, got %q", v)
	}
	pt, at, err := loader.ParseProgramType(typ)
	if err != nil {
		return err
	}
	*t = append(*t, loader.WithProgramType(name, pt, at))
	return nil
}

// parseInterspersed parses flags that may come before or after the
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
