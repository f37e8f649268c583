//go:build linux

package helpers

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "record the running kernel's helper table into testdata/kernel_helpers.txt")

// verdict is what the verifier said about one helper call.
type verdict int

const (
	vAllowed   verdict = iota
	vRefused           // "program of this type cannot use helper"
	vUnknown           // "invalid func unknown#N": the kernel does not know the ID
	vSleepable         // allowed by the type's table, refused as sleepable
)

// probeHelper loads a program of hook h that calls helper id with r1 the
// context and r2..r5 zero, and classifies the verifier's answer. Any
// complaint other than the two helper refusals (an argument of the wrong
// type, a sleepable helper, ...) comes after the verifier found the
// helper's prototype for the type, so the helper is allowed.
func probeHelper(h Hook, id asm.BuiltinFunc) (verdict, error) {
	insns := asm.Instructions{
		asm.Mov.Imm(asm.R2, 0), asm.Mov.Imm(asm.R3, 0), asm.Mov.Imm(asm.R4, 0), asm.Mov.Imm(asm.R5, 0),
		id.Call(),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}
	spec := &ebpf.ProgramSpec{Type: h.ProgramType(), AttachType: h.AttachType(), Instructions: insns, License: "GPL"}
	p, err := ebpf.NewProgramWithOptions(spec, ebpf.ProgramOptions{LogLevel: ebpf.LogLevelBranch})
	if err == nil {
		p.Close()
		return vAllowed, nil
	}
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		return 0, fmt.Errorf("%s, helper %d: %w", h, id, err)
	}
	for _, l := range ve.Log {
		switch {
		case strings.Contains(l, "cannot use helper"):
			return vRefused, nil
		case strings.Contains(l, "invalid func unknown#"):
			return vUnknown, nil
		case strings.Contains(l, "might sleep in a non-sleepable prog"):
			return vSleepable, nil
		}
	}
	return vAllowed, nil
}

// kernelFuncNames reads enum bpf_func_id from the kernel's BTF: the
// helpers' own names.
func kernelFuncNames() map[asm.BuiltinFunc]string {
	names := map[asm.BuiltinFunc]string{}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return names
	}
	var e *btf.Enum
	if err := spec.TypeByName("bpf_func_id", &e); err != nil {
		return names
	}
	for _, v := range e.Values {
		if n, ok := strings.CutPrefix(v.Name, "BPF_FUNC_"); ok {
			names[asm.BuiltinFunc(v.Value)] = n
		}
	}
	return names
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// probeKernel builds the running kernel's table.
func probeKernel(t *testing.T) *Table {
	names := kernelFuncNames()
	tab := &Table{Kernel: kernelRelease(), ByID: map[asm.BuiltinFunc]Helper{}}
	for id := asm.BuiltinFunc(1); ; id++ {
		known := false
		for _, h := range Hooks {
			v, err := probeHelper(h, id)
			require.NoError(t, err)
			if v == vUnknown {
				continue
			}
			known = true
			name := names[id]
			if name == "" {
				name = nameFromAsm(id)
			}
			tab.Set(id, name, h, v == vAllowed || v == vSleepable, v == vSleepable)
		}
		if !known {
			break
		}
	}
	return tab
}

// bpfAvailable skips the test when this process may not load programs.
func bpfAvailable(t *testing.T) {
	t.Helper()
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Skipf("kernel comparison skipped: cannot lift the memlock limit: %v", err)
	}
	_, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SkMsg, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Return()}})
	if errors.Is(err, unix.EPERM) || errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("kernel comparison skipped: loading an sk_msg program: %v (needs root or CAP_BPF+CAP_NET_ADMIN)", err)
	}
	require.NoError(t, err)
}

// TestKernelHelperTable probes the running kernel for every helper ID and
// sockmap program type and compares with the recorded table skmsg uses.
func TestKernelHelperTable(t *testing.T) {
	bpfAvailable(t)
	live := probeKernel(t)
	if *update {
		require.NoError(t, os.WriteFile("testdata/kernel_helpers.txt", []byte(live.Format()), 0o644))
		t.Logf("recorded %d helpers from kernel %s", len(live.ByID), live.Kernel)
		return
	}
	rec := Kernel()
	t.Logf("running kernel %s, table recorded on %s; kernel knows helpers 1..%d", live.Kernel, rec.Kernel, live.MaxID)
	var diffs []string
	for id := asm.BuiltinFunc(1); id <= max(live.MaxID, rec.MaxID); id++ {
		lh, lok := live.ByID[id]
		rh, rok := rec.ByID[id]
		switch {
		case !lok:
			diffs = append(diffs, fmt.Sprintf("helper %d (%s): in the table, unknown to the running kernel", id, rh.Name))
			continue
		case !rok:
			diffs = append(diffs, fmt.Sprintf("helper %d (%s): known to the running kernel, not in the table", id, lh.Name))
			continue
		}
		for _, h := range Hooks {
			if lh.Sleepable != rh.Sleepable && lh.AllowedIn(h) {
				diffs = append(diffs, fmt.Sprintf("helper %d (%s) in %s: kernel says sleepable %v, table %v", id, lh.Name, h, lh.Sleepable, rh.Sleepable))
			}
			if lh.AllowedIn(h) != rh.AllowedIn(h) {
				diffs = append(diffs, fmt.Sprintf("helper %d (%s) in %s: kernel allows %v, table says %v", id, lh.Name, h, lh.AllowedIn(h), rh.AllowedIn(h)))
			}
		}
	}
	require.Empty(t, diffs, "the running kernel's helper table differs from testdata/kernel_helpers.txt; if this kernel is the new reference, record it with -update")
}
