package cover

import (
	"bufio"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
)

// maxSourceSize bounds a source file read for the HTML report; a bigger
// one is shown from the line info's text only.
const maxSourceSize = 8 << 20

// WriteHTML writes a browsable report into dir (created if needed):
// index.html with the per-program and per-file summary, and one page per
// source file showing the C source with each line marked executed,
// partly executed (some instructions or one branch direction never ran)
// or never executed, with its count and branch directions. Sources not
// found by FindSources are shown from the text the line info carries
// (only the lines that have instructions).
func WriteHTML(dir string, p *Profile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("coverage report: %w", err)
	}
	idx := indexPage{Programs: p.Programs}
	for i, f := range p.Files {
		page := fmt.Sprintf("file%d.html", i)
		fp, err := filePageOf(f)
		if err != nil {
			return err
		}
		fp.Title = f.Name
		if err := writeTemplate(filepath.Join(dir, page), fileTmpl, fp); err != nil {
			return err
		}
		idx.Files = append(idx.Files, fileRow{Name: f.Name, Page: page, Lines: len(f.Lines), LinesHit: fp.linesHit,
			Branches: fp.branches, BranchesHit: fp.branchesHit})
	}
	return writeTemplate(filepath.Join(dir, "index.html"), indexTmpl, idx)
}

func writeTemplate(path string, t *template.Template, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("coverage report: %w", err)
	}
	w := bufio.NewWriter(f)
	err = t.Execute(w, data)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("coverage report %s: %w", path, err)
	}
	return nil
}

type indexPage struct {
	Programs []*Program
	Files    []fileRow
}

type fileRow struct {
	Name, Page                             string
	Lines, LinesHit, Branches, BranchesHit int
}

type filePage struct {
	Title string
	Path  string // where the source was read from; "" when shown from line info
	Lines []srcLine

	linesHit, branches, branchesHit int
}

type srcLine struct {
	N     int
	Text  string
	Class string // "cov", "part", "never" or "" for lines without code
	Hits  string
	Marks string // one mark per branch direction: + taken, - not taken, # never reached
	Title string
}

func filePageOf(f *File) (*filePage, error) {
	fp := &filePage{Path: f.Path}
	var text []string
	if f.Path != "" {
		if st, err := os.Stat(f.Path); err == nil && st.Size() <= maxSourceSize {
			b, err := os.ReadFile(f.Path)
			if err != nil {
				return nil, fmt.Errorf("coverage report: reading the source of %s: %w", f.Name, err)
			}
			text = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		} else {
			fp.Path = ""
		}
	}
	byNum := map[int]*Line{}
	last := len(text)
	for _, l := range f.Lines {
		byNum[l.Number] = l
		last = max(last, l.Number)
	}
	for n := 1; n <= last; n++ {
		sl := srcLine{N: n}
		if n <= len(text) {
			sl.Text = strings.TrimRight(text[n-1], "\r")
		}
		if l := byNum[n]; l != nil {
			if fp.Path == "" {
				sl.Text = l.Text
			}
			sl.Hits = fmt.Sprint(l.Hits)
			switch l.State() {
			case Covered:
				sl.Class = "cov"
			case Partly:
				sl.Class = "part"
			default:
				sl.Class = "never"
			}
			if l.Hits > 0 {
				fp.linesHit++
			}
			sl.Title = fmt.Sprintf("%d of %d instructions ran", l.InsnsHit, l.Insns)
			var marks []string
			for _, b := range l.Branches {
				for _, c := range []uint64{b.Taken, b.FellThru} {
					fp.branches++
					switch {
					case b.Taken+b.FellThru == 0:
						marks = append(marks, "#")
					case c == 0:
						marks = append(marks, "-")
					default:
						marks = append(marks, "+")
						fp.branchesHit++
					}
				}
				sl.Title += fmt.Sprintf("; %s pc %d: jumped %d, fell through %d", b.Program, b.PC, b.Taken, b.FellThru)
			}
			if len(marks) > 0 {
				sl.Marks = "[" + strings.Join(marks, " ") + "]"
			}
		} else if fp.Path == "" {
			continue // no source and no code on this line
		}
		fp.Lines = append(fp.Lines, sl)
	}
	return fp, nil
}

const css = `
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 2px 10px; text-align: left; white-space: nowrap; }
th { background: #dde; }
tr.row:nth-child(even) { background: #f4f4f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; width: 100px; height: 10px; background: #e66; vertical-align: middle; }
.bar span { display: block; height: 10px; background: #4a4; }
.bar.none { background: #ccc; }
pre { margin: 0; }
table.src { font-family: monospace; font-size: 13px; width: 100%; tab-size: 4; }
table.src td { padding: 0 8px; white-space: pre; }
td.ln { color: #888; text-align: right; border-right: 1px solid #ccc; }
td.hits, td.marks { text-align: right; color: #555; }
tr.cov td.code { background: #c8f0c8; }
tr.part td.code { background: #fbeaa0; }
tr.never td.code { background: #f6c0c0; }
.legend span { padding: 1px 8px; margin-right: 8px; font-family: monospace; }
`

var funcs = template.FuncMap{
	"pct": func(hit, total int) string {
		if total == 0 {
			return "none"
		}
		return fmt.Sprintf("%.1f%%", Percent(hit, total))
	},
	"w": func(hit, total int) int {
		if total == 0 {
			return 0
		}
		return int(Percent(hit, total))
	},
	"bar": func(total int) string {
		if total == 0 {
			return "bar none"
		}
		return "bar"
	},
}

var indexTmpl = template.Must(template.New("index").Funcs(funcs).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>skmsg coverage</title><style>` + css + `</style></head>
<body>
<h1>skmsg coverage</h1>
<h2>Programs</h2>
<table>
<tr><th>program</th><th>object</th><th>runs</th><th colspan="2">lines</th><th colspan="2">branches</th><th>instructions</th></tr>
{{range .Programs}}<tr class="row"><td>{{.Name}}</td><td>{{.Object}}</td><td class="num">{{.Runs}}</td>
<td class="num">{{.LinesHit}}/{{.Lines}}</td><td><span class="{{bar .Lines}}"><span style="width:{{w .LinesHit .Lines}}px"></span></span> {{pct .LinesHit .Lines}}</td>
<td class="num">{{.BranchesHit}}/{{.Branches}}</td><td><span class="{{bar .Branches}}"><span style="width:{{w .BranchesHit .Branches}}px"></span></span> {{pct .BranchesHit .Branches}}</td>
<td class="num">{{.InsnsHit}}/{{.Insns}}</td></tr>
{{end}}</table>
<h2>Source files</h2>
<table>
<tr><th>file</th><th colspan="2">lines</th><th colspan="2">branches</th></tr>
{{range .Files}}<tr class="row"><td><a href="{{.Page}}">{{.Name}}</a></td>
<td class="num">{{.LinesHit}}/{{.Lines}}</td><td>{{pct .LinesHit .Lines}}</td>
<td class="num">{{.BranchesHit}}/{{.Branches}}</td><td>{{pct .BranchesHit .Branches}}</td></tr>
{{end}}</table>
</body></html>
`))

var fileTmpl = template.Must(template.New("file").Funcs(funcs).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}: skmsg coverage</title><style>` + css + `</style></head>
<body>
<p><a href="index.html">&larr; all files</a></p>
<h1>{{.Title}}</h1>
<p class="legend"><span style="background:#c8f0c8">executed</span><span style="background:#fbeaa0">partly executed</span><span style="background:#f6c0c0">never executed</span>
branches: <code>+</code> taken, <code>-</code> not taken, <code>#</code> never reached</p>
{{if not .Path}}<p><em>Source file not found: showing the lines recorded in the object's line info.</em></p>{{end}}
<table class="src">
<tr><th>line</th><th>count</th><th>branches</th><th>source</th></tr>
{{range .Lines}}<tr class="{{.Class}}"{{if .Title}} title="{{.Title}}"{{end}}><td class="ln">{{.N}}</td><td class="hits">{{.Hits}}</td><td class="marks">{{.Marks}}</td><td class="code">{{.Text}}</td></tr>
{{end}}</table>
</body></html>
`))
