package cover

import (
	"os"
	"path/filepath"
)

// FindSources sets each file's Path to where its source is on this
// machine. Line info records names as the compiler saw them, often
// relative to the build directory ("./testdata/x.c"), so each name is
// tried as given, then under roots and under the directories of the
// programs' objects and their parents (an object built at a repository's
// root and kept next to its source is found that way). Files not found
// keep an empty Path; reports then fall back to the line info's text.
func (p *Profile) FindSources(roots ...string) {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if abs, err := filepath.Abs(d); err == nil && !seen[abs] {
			seen[abs] = true
			dirs = append(dirs, abs)
		}
	}
	for _, r := range roots {
		add(r)
	}
	for _, prog := range p.Programs {
		if prog.Object == "" {
			continue
		}
		for d := filepath.Dir(prog.Object); ; d = filepath.Dir(d) {
			add(d)
			if parent := filepath.Dir(d); parent == d || len(dirs) > 64 {
				break
			}
		}
	}
	for _, f := range p.Files {
		f.Path = findSource(f.Name, dirs)
	}
}

func findSource(name string, dirs []string) string {
	if filepath.IsAbs(name) {
		if isFile(name) {
			return name
		}
		return ""
	}
	for _, d := range dirs {
		for _, cand := range []string{filepath.Join(d, name), filepath.Join(d, filepath.Base(name))} {
			if isFile(cand) {
				return cand
			}
		}
	}
	return ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
