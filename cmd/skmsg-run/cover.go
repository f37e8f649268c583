package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/skmsg/skmsg/cover"
)

// writeCoverage writes what --cover and --cover-html ask for and prints
// the per-program summary on w.
func writeCoverage(w io.Writer, f *runFlags) error {
	prof := f.cover.Profile()
	// Objects are named by the paths the scenarios resolved; relative to
	// the working directory they read better in the summary.
	if wd, err := os.Getwd(); err == nil {
		for _, p := range prof.Programs {
			if rel, err := filepath.Rel(wd, p.Object); err == nil && filepath.IsAbs(p.Object) && !filepath.IsAbs(rel) && len(rel) < len(p.Object) {
				defer func(p *cover.Program, abs string) { p.Object = abs }(p, p.Object)
				p.Object = rel
			}
		}
	}
	prof.FindSources(".")
	if f.coverFile != "" {
		out, err := os.Create(f.coverFile)
		if err != nil {
			return fmt.Errorf("--cover: %w", err)
		}
		err = cover.WriteLCOV(out, prof, "skmsg")
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("--cover %s: %w", f.coverFile, err)
		}
	}
	if f.coverHTML != "" {
		if err := cover.WriteHTML(f.coverHTML, prof); err != nil {
			return fmt.Errorf("--cover-html: %w", err)
		}
	}
	fmt.Fprintln(w, "coverage:")
	if err := cover.WriteSummary(w, prof); err != nil {
		return err
	}
	for _, out := range []struct{ what, path string }{{"lcov tracefile", f.coverFile}, {"HTML report", filepath.Join(f.coverHTML, "index.html")}} {
		if out.path != "" && out.path != "index.html" {
			fmt.Fprintf(w, "coverage: %s written to %s\n", out.what, out.path)
		}
	}
	return nil
}
