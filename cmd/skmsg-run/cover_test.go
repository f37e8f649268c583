package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
)

func TestRunCover(t *testing.T) {
	dir := t.TempDir()
	info := filepath.Join(dir, "cover.info")
	html := filepath.Join(dir, "html")
	files := []string{testobj.Path("scenarios", "config.yaml"), testobj.Path("scenarios", "redirect_ingress.yaml")}
	stdout, stderr, code := runBinary(t, append([]string{"run", "--cover", info, "--cover-html", html}, files...)...)
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `(?m)^msg_config +\S+config\.o +4 +11/11 +100\.0% +7/10 +70\.0%`, stdout)
	assert.Regexp(t, `(?m)^msg_redir_egress +\S+redirect\.o +0 +0/5 +0\.0%`, stdout, "a program that never ran is listed")
	assert.Contains(t, stdout, "coverage: lcov tracefile written to "+info)
	lcov, err := os.ReadFile(info)
	require.NoError(t, err)
	assert.Contains(t, string(lcov), "SF:"+testobj.Path("scenarios", "config.c")+"\n")
	assert.FileExists(t, filepath.Join(html, "index.html"))

	// With --json the summary goes to stderr with the report.
	stdout, stderr, code = runBinary(t, "run", "--json", "--cover", info, files[0])
	require.Equal(t, exitOK, code, stderr)
	assert.NotContains(t, stdout, "coverage:")
	assert.Contains(t, stderr, "coverage:")

	if genhtml, err := exec.LookPath("genhtml"); err == nil {
		out, err := exec.Command(genhtml, "--branch-coverage", "-o", filepath.Join(dir, "genhtml"), info).CombinedOutput()
		require.NoError(t, err, "genhtml: %s", out)
	} else {
		t.Log("genhtml (Debian package lcov) not installed: the tracefile is checked by cover's tests only")
	}

	_, stderr, code = runBinary(t, "run", "--kernel", "--cover", info, files[0])
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "cannot be used with --kernel")
}
