package loader_test

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/loader"
)

// TestResolveLegacyMaps: iproute2's pairing of maps of maps with their
// inner templates, on cilium/ebpf specs.
func TestResolveLegacyMaps(t *testing.T) {
	arr := func(name string, extra ...uint32) *ebpf.MapSpec {
		return &ebpf.MapSpec{Name: name, Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 2, Extra: legacyTail(extra...)}
	}
	outer := func(name string, typ ebpf.MapType, keySize uint32, extra ...uint32) *ebpf.MapSpec {
		return &ebpf.MapSpec{Name: name, Type: typ, KeySize: keySize, ValueSize: 4, MaxEntries: 4, Extra: legacyTail(extra...)}
	}
	const noPrepopulate = 0xffffffff
	for _, tc := range []struct {
		name     string
		maps     []*ebpf.MapSpec
		inner    map[string]string // outer -> template
		contents map[string][]ebpf.MapKV
		wantErr  string
	}{
		{
			name:     "template stored at inner_idx",
			maps:     []*ebpf.MapSpec{arr("tmpl", 5, 0, 0, 1), outer("out", ebpf.ArrayOfMaps, 4, 0, 0, 5, 0)},
			inner:    map[string]string{"out": "tmpl"},
			contents: map[string][]ebpf.MapKV{"out": {{Key: uint32(1), Value: "tmpl"}}},
		},
		{
			name:  "NO_PREPOPULATE template is only a template",
			maps:  []*ebpf.MapSpec{arr("tmpl", 7, 0, 0, noPrepopulate), outer("out", ebpf.HashOfMaps, 2, 0, 2, 7, 0)},
			inner: map[string]string{"out": "tmpl"},
		},
		{
			name:     "the key of a 2-byte hash of maps",
			maps:     []*ebpf.MapSpec{arr("tmpl", 7, 0, 0, 3), outer("out", ebpf.HashOfMaps, 2, 0, 0, 7, 0)},
			inner:    map[string]string{"out": "tmpl"},
			contents: map[string][]ebpf.MapKV{"out": {{Key: []byte{3, 0}, Value: "tmpl"}}},
		},
		{
			name:  "an outer map sharing the template's id is not its own template",
			maps:  []*ebpf.MapSpec{arr("tmpl", 7, 0, 0, noPrepopulate), outer("out", ebpf.HashOfMaps, 4, 7, 0, 7, noPrepopulate)},
			inner: map[string]string{"out": "tmpl"},
		},
		{
			name:  "two outer maps, one template",
			maps:  []*ebpf.MapSpec{arr("tmpl", 3, 0, 0, 0), outer("a", ebpf.ArrayOfMaps, 4, 0, 0, 3, 0), outer("b", ebpf.ArrayOfMaps, 4, 0, 0, 3, 0)},
			inner: map[string]string{"a": "tmpl", "b": "tmpl"},
			contents: map[string][]ebpf.MapKV{
				"a": {{Key: uint32(0), Value: "tmpl"}},
				"b": {{Key: uint32(0), Value: "tmpl"}},
			},
		},
		{
			name:    "inner_idx past an array of maps",
			maps:    []*ebpf.MapSpec{arr("tmpl", 3, 0, 0, 9), outer("out", ebpf.ArrayOfMaps, 4, 0, 0, 3, 0)},
			wantErr: "inner_idx 9 of tmpl out of range",
		},
		{
			name:    "inner_id on a plain map",
			maps:    []*ebpf.MapSpec{arr("tmpl", 3, 0, 0, 0), arr("plain", 0, 0, 3, 0)},
			wantErr: "inner_id 3 on a Array, not a map of maps",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}}
			for _, m := range tc.maps {
				spec.Maps[m.Name] = m
			}
			defs, err := loader.ResolveLegacyMaps(spec)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, defs, len(tc.maps))
			for name, m := range spec.Maps {
				require.Nil(t, m.Extra, "%s: the legacy tail is consumed", name)
				tmpl, isOuter := tc.inner[name]
				if !isOuter {
					require.Nil(t, m.InnerMap, name)
					continue
				}
				require.NotNil(t, m.InnerMap, name)
				require.Equal(t, spec.Maps[tmpl].Type, m.InnerMap.Type)
				require.Equal(t, spec.Maps[tmpl].ValueSize, m.InnerMap.ValueSize)
				require.Equal(t, tc.contents[name], m.Contents, name)
			}
		})
	}
}
