//go:build linux

package kernel

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// sockCgroup is a temporary cgroup v2 that the process sits in while a
// scenario with sockops programs runs: a socket belongs to the cgroup of the
// task that created it, and sockops programs attached to this cgroup run
// for those sockets only, not for the rest of the machine.
type sockCgroup struct {
	path     string // the temporary cgroup
	original string // where the process came from
	mounted  string // a cgroup2 mount made for this, or ""
}

func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... mountpoint ... - fstype source options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		if fields := strings.Fields(post); len(fields) > 0 && fields[0] == "cgroup2" {
			if pf := strings.Fields(pre); len(pf) >= 5 && pf[3] == "/" {
				return pf[4], nil
			}
		}
	}
	return "", sc.Err()
}

func ownCgroup2Path() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p, nil
		}
	}
	return "/", nil
}

// enterCgroup makes a child cgroup and moves the process into it.
func enterCgroup() (*sockCgroup, error) {
	cg := &sockCgroup{}
	root, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	if root == "" {
		dir, err := os.MkdirTemp("", "skmsg-cgroup2-")
		if err != nil {
			return nil, err
		}
		if err := unix.Mount("none", dir, "cgroup2", 0, ""); err != nil {
			os.Remove(dir)
			return nil, fmt.Errorf("no cgroup2 mounted and mounting one failed: %w", err)
		}
		root, cg.mounted = dir, dir
	}
	own, err := ownCgroup2Path()
	if err != nil {
		cg.release()
		return nil, err
	}
	cg.original = filepath.Join(root, own)
	removeStale(root)
	cg.path = filepath.Join(root, fmt.Sprintf("skmsg-oracle-%d", os.Getpid()))
	if err := os.Mkdir(cg.path, 0o755); err != nil && !os.IsExist(err) {
		cg.release()
		return nil, fmt.Errorf("creating cgroup: %w", err)
	}
	if err := writeProcs(cg.path, os.Getpid()); err != nil {
		cg.release()
		return nil, fmt.Errorf("moving the process into %s: %w", cg.path, err)
	}
	return cg, nil
}

func writeProcs(dir string, pid int) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

// release moves the process back and removes the cgroup.
func (cg *sockCgroup) release() error {
	var first error
	if cg.path != "" {
		if cg.original != "" {
			if err := writeProcs(cg.original, os.Getpid()); err != nil {
				first = fmt.Errorf("moving the process back to %s: %w", cg.original, err)
			}
		}
		if err := os.Remove(cg.path); err != nil && first == nil && !os.IsNotExist(err) {
			first = fmt.Errorf("removing %s: %w", cg.path, err)
		}
	}
	if cg.mounted != "" {
		_ = unix.Unmount(cg.mounted, 0)
		_ = os.Remove(cg.mounted)
	}
	return first
}

// removeStale removes the cgroups of oracle processes that died inside
// one (an empty cgroup is all that is left of them).
func removeStale(root string) {
	dirs, _ := filepath.Glob(filepath.Join(root, "skmsg-oracle-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "skmsg-oracle-"))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := unix.Kill(pid, 0); err == unix.ESRCH {
			_ = os.Remove(d) // fails harmlessly if something is still in it
		}
	}
}
