package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/helpers"
)

// Every helper the kernel lets a sockmap program type call is either
// implemented by skmsg for that type or listed, with a reason, as not
// supported; and skmsg offers nothing the kernel refuses.
func TestHelperTableCovered(t *testing.T) {
	rt := New(Options{})
	defer rt.Close()
	for _, hook := range helpers.Hooks {
		t.Run(hook.String(), func(t *testing.T) {
			info, ok := progTypes[hook.ProgramType()]
			require.True(t, ok)
			impl := mergeHelpers(info.Helpers(rt), currentHelpers(rt), sockHelpers(rt))
			for _, hp := range helpers.Kernel().ForHook(hook) {
				_, implemented := impl[hp.ID]
				why, unsupported := unsupportedHelpers[hp.ID]
				switch {
				case hp.Sleepable:
					require.False(t, implemented, "bpf_%s sleeps; the verifier refuses it", hp.Name)
				case implemented:
					require.False(t, unsupported, "bpf_%s is implemented and listed as unsupported (%s)", hp.Name, why)
				default:
					require.True(t, unsupported, "the kernel allows bpf_%s#%d in %s programs; skmsg neither implements it nor says why not", hp.Name, hp.ID, hook)
				}
			}
		})
	}
	for id, why := range unsupportedHelpers {
		hp, ok := helpers.Kernel().ByID[id]
		require.True(t, ok, "unsupported helper %d (%s) is unknown to the kernel", id, why)
		any := false
		for _, hook := range helpers.Hooks {
			any = any || hp.AllowedIn(hook)
		}
		require.True(t, any, "bpf_%s is listed as unsupported but no sockmap program type may call it", hp.Name)
	}
}
