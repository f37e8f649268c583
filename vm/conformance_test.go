package vm_test

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/vm"
	"github.com/skmsg/skmsg/vm/internal/asmtext"
)

// conformanceDir is where the bpf_conformance vectors live: beside the
// repository, or wherever SKMSG_CONFORMANCE_DIR says.
func conformanceDir() string {
	if d := os.Getenv("SKMSG_CONFORMANCE_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	return filepath.Join(root, "..", "shared", "conformance", "tests")
}

type vector struct {
	asm    string
	raw    []uint64
	mem    []byte
	result uint64
}

func parseVector(t *testing.T, path string) vector {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sections := map[string]*strings.Builder{}
	var cur *strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "-- "); ok {
			cur = &strings.Builder{}
			sections[strings.TrimSpace(name)] = cur
			continue
		}
		if cur != nil {
			cur.WriteString(line)
			cur.WriteByte('\n')
		}
	}
	require.NoError(t, sc.Err())
	var v vector
	if s, ok := sections["asm"]; ok {
		v.asm = s.String()
	}
	if s, ok := sections["raw"]; ok {
		for _, w := range strings.Fields(stripComments(s.String())) {
			n, err := asmtext.Num(w)
			require.NoError(t, err)
			v.raw = append(v.raw, n)
		}
	}
	if s, ok := sections["mem"]; ok {
		b, err := hex.DecodeString(strings.Join(strings.Fields(stripComments(s.String())), ""))
		require.NoError(t, err)
		v.mem = b
	}
	res, ok := sections["result"]
	require.True(t, ok, "no result section")
	r := strings.TrimSpace(stripComments(res.String()))
	if strings.Contains(r, "0x") || strings.Contains(r, "0X") {
		v.result, err = asmtext.Num(strings.ToLower(r))
	} else {
		v.result, err = asmtext.Num(r)
	}
	require.NoError(t, err)
	return v
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// conformanceHelpers gives helper 5 the suite's meaning: stop with r0 = 0
// when r1 is 0, else return r1.
var conformanceHelpers = vm.Helpers{
	5: {ID: 5, Name: "conformance_unwind", Fn: func(m *vm.Machine, r1, _, _, _, _ uint64) (uint64, error) {
		if r1 == 0 {
			return 0, vm.ErrStop
		}
		return r1, nil
	}},
}

func TestConformance(t *testing.T) {
	dir := conformanceDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*.data"))
	if len(files) == 0 {
		t.Skipf("no conformance vectors in %s (set SKMSG_CONFORMANCE_DIR)", dir)
	}
	sort.Strings(files)
	space := vm.NewSpace()
	m := space.NewMachine()
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".data")
		t.Run(name, func(t *testing.T) {
			v := parseVector(t, file)
			var insns asm.Instructions
			var err error
			if v.raw != nil {
				insns, err = asmtext.FromWords(v.raw)
			} else {
				insns, err = asmtext.Assemble(v.asm)
			}
			require.NoError(t, err)
			prog, err := vm.Prepare(space, name, insns, vm.Options{Helpers: conformanceHelpers})
			require.NoError(t, err)
			m.Reset()
			var r1 uint64
			if v.mem != nil {
				r1 = m.AddRegion(vm.Region{Name: "mem", Data: v.mem, Perm: vm.PermRW})
			}
			// r2 holds the memory's length, as the suite's runners do.
			mem := append([]byte(nil), v.mem...)
			r0, err := m.RunArgs(prog, [5]uint64{r1, uint64(len(v.mem))})
			require.NoError(t, err)
			require.Equal(t, v.result, r0, "r0 = %#x, want %#x", r0, v.result)

			// The traced loop gives the same result in as many steps.
			executed := m.Executed()
			copy(v.mem, mem)
			tr := &recorder{}
			m.SetTracer(tr)
			defer m.SetTracer(nil)
			r0, err = m.RunArgs(prog, [5]uint64{r1, uint64(len(v.mem))})
			require.NoError(t, err)
			require.Equal(t, v.result, r0)
			require.Equal(t, executed, m.Executed())
			require.Len(t, tr.steps, int(executed))
		})
	}
}
