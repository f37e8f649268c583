//go:build linux

package runtime_test

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/runtime"
)

// Programs the kernel's verifier refuses are refused when skmsg prepares
// them, with a reason naming what is wrong; the kernel refuses them too.
func TestRejectedPrograms(t *testing.T) {
	obj, err := loader.Open(testobj.Path("runtime", "sockmap_msg.o"))
	require.NoError(t, err)
	rt := runtime.New(runtime.Options{})
	defer rt.Close()
	coll, err := rt.Load(obj)
	require.NoError(t, err)
	cases := []struct {
		prog string
		want string // part of skmsg's reason
	}{
		{"msg_bad_store", "invalid bpf_context access off=68 size=4"},
		{"msg_bad_narrow", "off=64 size=1"},
		{"msg_bad_helper", "get_socket_cookie"},
	}
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("runtime", "sockmap_msg.o"))
	require.NoError(t, err)
	for _, c := range cases {
		t.Run(c.prog, func(t *testing.T) {
			require.NotContains(t, coll.Programs, c.prog)
			require.Error(t, coll.Rejected[c.prog])
			require.Contains(t, coll.Rejected[c.prog].Error(), c.want)
			if ks := kernelAvailable(); ks != nil {
				t.Skip(ks)
			}
			ps := spec.Programs[c.prog].Copy()
			cs := &ebpf.CollectionSpec{Maps: spec.Maps, Programs: map[string]*ebpf.ProgramSpec{c.prog: ps}}
			kc, err := ebpf.NewCollection(cs)
			if err == nil {
				kc.Close()
			}
			require.Error(t, err, "the kernel's verifier refuses %s too", c.prog)
		})
	}
	for _, ok := range []string{"msg_prog", "msg_pass", "msg_redir_egress", "msg_redir_ingress"} {
		require.Contains(t, coll.Programs, ok)
	}
}
