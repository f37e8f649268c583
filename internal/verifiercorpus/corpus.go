// Package verifiercorpus is the proof of skmsg's static verifier: it lists
// the programs of the verifier corpus (testdata/verifier), reads and writes
// the kernel's recorded verdicts on them (testdata/verifier/verdicts.json),
// and loads programs into the running kernel to get the kernel's verdict.
// The differential test, the fuzzer and the benchmark in package verifier
// and internal/cmd/verifierfuzz are built on it.
package verifiercorpus

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

// Dir is the corpus directory.
func Dir() string { return testobj.Path("verifier") }

// VerdictsPath is the file holding the kernel's recorded verdicts.
func VerdictsPath() string { return filepath.Join(Dir(), "verdicts.json") }

// Case is one program of the corpus.
type Case struct {
	// Object is the object's path relative to the corpus directory.
	Object string
	Obj    *loader.Object
	Prog   *loader.ProgramSpec
}

// Key names the case in verdict files and test names: "object.o/program".
func (c Case) Key() string { return c.Object + "/" + c.Prog.Name }

// Cases opens every object of the corpus directory and returns its
// programs, sorted by object then program name.
func Cases() ([]Case, error) {
	return CasesIn(Dir())
}

// CasesIn is Cases for another directory (the fuzzer's saved programs).
func CasesIn(dir string) ([]Case, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.o"))
	if err != nil {
		return nil, fmt.Errorf("list objects of %s: %w", dir, err)
	}
	sort.Strings(paths)
	var out []Case
	for _, p := range paths {
		obj, err := loader.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open corpus object %s: %w", p, err)
		}
		rel := filepath.Base(p)
		for _, prog := range obj.ProgramList {
			out = append(out, Case{Object: rel, Obj: obj, Prog: prog})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}

// Verdict is the kernel's (or skmsg's) answer on one program.
type Verdict struct {
	Object   string `json:"object"`
	Program  string `json:"program"`
	Section  string `json:"section"`
	Accepted bool   `json:"accepted"`
	// Errno is the load's errno name ("EACCES", "EINVAL", "E2BIG"), ""
	// when accepted.
	Errno string `json:"errno,omitempty"`
	// Reason is the log's last meaningful line (see Reason), "" when
	// accepted.
	Reason string `json:"reason,omitempty"`
	// Insn is the instruction the log stops at, -1 when none.
	Insn int `json:"insn"`
}

// Key is Case.Key for the verdict.
func (v Verdict) Key() string { return v.Object + "/" + v.Program }

// Same reports whether two verdicts agree the way the differential test
// requires: both accepted, or both refused with the same errno.
func (v Verdict) Same(o Verdict) bool {
	return v.Accepted == o.Accepted && v.Errno == o.Errno
}

// String is the verdict in one line, for test logs.
func (v Verdict) String() string {
	if v.Accepted {
		return "accepted"
	}
	return fmt.Sprintf("refused %s at insn %d: %s", v.Errno, v.Insn, v.Reason)
}

// File is verdicts.json.
type File struct {
	// Kernel is the release of the kernel that gave the verdicts.
	Kernel   string    `json:"kernel"`
	Verdicts []Verdict `json:"verdicts"`
}

// ReadFile reads a verdicts file.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read verdicts: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse verdicts %s: %w", path, err)
	}
	return &f, nil
}

// Map returns the verdicts by Key.
func (f *File) Map() map[string]Verdict {
	m := make(map[string]Verdict, len(f.Verdicts))
	for _, v := range f.Verdicts {
		m[v.Key()] = v
	}
	return m
}

// WriteFile writes a verdicts file, one verdict a line so that a
// re-recording shows in a diff as the programs whose verdict changed.
func (f *File) WriteFile(path string) error {
	sort.Slice(f.Verdicts, func(i, j int) bool { return f.Verdicts[i].Key() < f.Verdicts[j].Key() })
	var b strings.Builder
	kernel, _ := json.Marshal(f.Kernel)
	fmt.Fprintf(&b, "{\n\"kernel\": %s,\n\"verdicts\": [\n", kernel)
	for i, v := range f.Verdicts {
		line, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode verdict %s: %w", v.Key(), err)
		}
		b.Write(line)
		if i < len(f.Verdicts)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n}\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write verdicts: %w", err)
	}
	return nil
}

// Reason picks the line of a verifier log that says why the program was
// refused: the last line before the summary ("processed N insns ...")
// that is not a state dump ("cur state:", "old state:" of an infinite
// loop). A reason the kernel printed without a newline keeps only its
// own words.
func Reason(log []string) string {
	for i := len(log) - 1; i >= 0; i-- {
		l := strings.TrimSpace(log[i])
		if j := strings.Index(l, "processed "); j > 0 && strings.Contains(l[j:], " insns (limit ") {
			l = strings.TrimSpace(l[:j])
		}
		if l == "" || isSummary(l) || strings.HasPrefix(l, "cur state:") || strings.HasPrefix(l, "old state:") {
			continue
		}
		return l
	}
	return ""
}

// FailingInsn is the index of the last instruction a level-1 log shows
// ("12: (61) r1 = *(u32 *)(r6 +0)"), -1 when it shows none.
func FailingInsn(log []string) int {
	for i := len(log) - 1; i >= 0; i-- {
		l := log[i]
		colon := strings.IndexByte(l, ':')
		if colon <= 0 || !strings.HasPrefix(l[colon:], ": (") {
			continue
		}
		n := 0
		ok := true
		for _, c := range l[:colon] {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int(c-'0')
		}
		if ok {
			return n
		}
	}
	return -1
}

func isSummary(l string) bool {
	for _, p := range []string{"processed ", "verification time ", "stack depth ", "max_states_per_insn", "mark_read "} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}
