package testobj

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestObjectsMatchSources rebuilds every testdata C source with the
// Makefile's flags and checks the committed object is byte-identical, so a
// source edited without `make testdata` is caught.
func TestObjectsMatchSources(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not installed: cannot check committed objects against their sources")
	}
	if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
		t.Skip("libbpf headers not installed (libbpf-dev): cannot rebuild testdata")
	}
	root := Root()
	out, err := exec.Command("make", "-s", "--no-print-directory", "-C", root, "print-bpf-cflags").Output()
	require.NoError(t, err)
	flags := strings.Fields(string(out))

	var sources []string
	require.NoError(t, filepath.WalkDir(Path(), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "include" {
			return filepath.SkipDir
		}
		if !d.IsDir() && filepath.Ext(p) == ".c" {
			sources = append(sources, p)
		}
		return nil
	}))
	tmp := t.TempDir()
	for _, src := range sources {
		rel, err := filepath.Rel(root, src)
		require.NoError(t, err)
		t.Run(rel, func(t *testing.T) {
			obj := strings.TrimSuffix(src, ".c") + ".o"
			committed, err := os.ReadFile(obj)
			require.NoError(t, err, "%s has no committed object: run make testdata", rel)
			fresh := filepath.Join(tmp, strings.ReplaceAll(rel, "/", "_")+".o")
			args := append(append([]string{}, flags...), "-c", rel, "-o", fresh)
			cmd := exec.Command(clang, args...)
			cmd.Dir = root
			msg, err := cmd.CombinedOutput()
			require.NoError(t, err, "clang %s: %s", rel, msg)
			rebuilt, err := os.ReadFile(fresh)
			require.NoError(t, err)
			require.True(t, bytes.Equal(committed, rebuilt), "%s is stale: run make testdata", strings.TrimSuffix(rel, ".c")+".o")
		})
	}
}
