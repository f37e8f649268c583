package scenario

import (
	"errors"
	"fmt"

	"github.com/skmsg/skmsg/internal/errno"
)

// WalkMap is Session.MapEntries over a backend's two map calls, walking
// the map with get_next_key as user space does. next gives the key after
// prev (nil: the first), or nil after the last. lookup gives a key's value;
// a key whose lookup finds nothing (ENOENT: an empty sockmap slot, an
// element deleted meanwhile) is left out, and one whose lookup the kernel
// refuses (ENOSPC: a sockmap with 4-byte values cannot report cookies) is
// listed without a value. A walk longer than maxEntries+2 keys (a map
// changing under it) is an error rather than a loop.
func WalkMap(name string, maxEntries uint32, next func(prev []byte) ([]byte, error), lookup func(key []byte) ([]byte, error)) ([]MapEntry, error) {
	var out []MapEntry
	var prev []byte
	for i := 0; i <= int(maxEntries)+1; i++ {
		key, err := next(prev)
		if err != nil {
			return out, fmt.Errorf("map %s: get_next_key after %d keys: %w", name, len(out), err)
		}
		if key == nil {
			return out, nil
		}
		prev = key
		v, err := lookup(key)
		switch {
		case errors.Is(err, errno.ENOENT):
			continue
		case errors.Is(err, errno.ENOSPC):
			out = append(out, MapEntry{Key: key})
			continue
		case err != nil:
			return out, fmt.Errorf("map %s: lookup of key %x: %w", name, key, err)
		}
		out = append(out, MapEntry{Key: key, Value: v})
	}
	return out, fmt.Errorf("map %s: get_next_key did not end after %d keys", name, int(maxEntries)+2)
}
