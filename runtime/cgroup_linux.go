package runtime

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// currentCgroup is the cgroup v2 ids of this process's cgroup and its
// ancestors, root first (the root's id is 1). Without a cgroup v2
// hierarchy it is the root alone.
var currentCgroup = sync.OnceValue(func() []uint64 {
	ids := []uint64{1}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ids
	}
	defer f.Close()
	path := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			path = rest
		}
	}
	dir := "/sys/fs/cgroup"
	for _, comp := range strings.Split(strings.Trim(path, "/"), "/") {
		if comp == "" {
			continue
		}
		dir = filepath.Join(dir, comp)
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			return ids
		}
		ids = append(ids, st.Ino)
	}
	return ids
})
