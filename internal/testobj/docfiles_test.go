package testobj

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The package comment of each of these packages has a file map that names
// every non-test file of the package, so a reader finds where a kernel
// behaviour lives from the docs alone.
func TestPackageDocsListEveryFile(t *testing.T) {
	for _, dir := range []string{"netstack", "runtime", "runtime/bpf", "loader", "vm", "scenario", "scenario/emulated", "scenario/kernel"} {
		t.Run(dir, func(t *testing.T) {
			abs := filepath.Join(Root(), dir)
			entries, err := os.ReadDir(abs)
			require.NoError(t, err)
			var files []string
			doc := ""
			for _, e := range entries {
				n := e.Name()
				if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
					continue
				}
				if n != "doc.go" { // the file that holds the map
					files = append(files, n)
				}
				f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(abs, n), nil, parser.PackageClauseOnly|parser.ParseComments)
				require.NoError(t, err)
				if f.Doc != nil {
					doc += f.Doc.Text()
				}
			}
			require.NotEmpty(t, doc, "%s has no package comment", dir)
			for _, n := range files {
				require.True(t, strings.Contains(doc, n), "%s: the package comment's file map does not name %s", dir, n)
			}
		})
	}
}
