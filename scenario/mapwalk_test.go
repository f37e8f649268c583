package scenario

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/errno"
)

// A map of one-byte keys 0..n-1 whose lookups answer from vals (an error
// or a value).
func walkFake(n int, endless bool, vals map[byte]any) ([]MapEntry, error) {
	next := func(prev []byte) ([]byte, error) {
		k := 0
		if prev != nil {
			k = int(prev[0]) + 1
		}
		if k == n {
			if !endless {
				return nil, nil
			}
			k = 0 // a walk restarting from the first key, as after a deleted key
		}
		return []byte{byte(k)}, nil
	}
	lookup := func(key []byte) ([]byte, error) {
		switch v := vals[key[0]].(type) {
		case error:
			return nil, v
		case string:
			return []byte(v), nil
		}
		return []byte{key[0]}, nil
	}
	return WalkMap("m", uint32(n), next, lookup)
}

func TestWalkMap(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		endless bool
		vals    map[byte]any
		want    []MapEntry
		err     string
	}{
		{name: "empty", n: 0},
		{name: "every key", n: 2, want: []MapEntry{{Key: []byte{0}, Value: []byte{0}}, {Key: []byte{1}, Value: []byte{1}}}},
		{name: "ENOENT left out, ENOSPC without value", n: 3, vals: map[byte]any{0: errno.ENOENT, 1: errno.ENOSPC},
			want: []MapEntry{{Key: []byte{1}}, {Key: []byte{2}, Value: []byte{2}}}},
		{name: "lookup error", n: 2, vals: map[byte]any{1: errno.EPERM},
			want: []MapEntry{{Key: []byte{0}, Value: []byte{0}}}, err: "map m: lookup of key 01"},
		{name: "a walk that does not end", n: 2, endless: true, err: "map m: get_next_key did not end after 4 keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := walkFake(tt.n, tt.endless, tt.vals)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
			} else {
				require.NoError(t, err)
			}
			if tt.want != nil {
				assert.Equal(t, tt.want, got)
			} else if tt.err == "" {
				assert.Empty(t, got)
			}
		})
	}
}
