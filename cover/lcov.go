package cover

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteLCOV writes p as an lcov tracefile (the format of the lcov
// tools' geninfo, read by genhtml and CI coverage services): one record
// per source file with function, line (DA) and branch (BRDA) counts.
// Branch 0 of a conditional jump is the jump taken, branch 1 the fall
// through. A file found by FindSources is named by its path, else by
// the name the line info gives.
func WriteLCOV(w io.Writer, p *Profile, testName string) error {
	bw := bufio.NewWriter(w)
	for _, f := range p.Files {
		name := f.Path
		if name == "" {
			name = f.Name
		}
		fmt.Fprintf(bw, "TN:%s\nSF:%s\n", lcovName(testName), name)
		fnHit := 0
		for _, fn := range f.Functions {
			fmt.Fprintf(bw, "FN:%d,%s\n", fn.Line, fn.Name)
		}
		for _, fn := range f.Functions {
			fmt.Fprintf(bw, "FNDA:%d,%s\n", fn.Hits, fn.Name)
			if fn.Hits > 0 {
				fnHit++
			}
		}
		fmt.Fprintf(bw, "FNF:%d\nFNH:%d\n", len(f.Functions), fnHit)
		brFound, brHit := 0, 0
		for _, l := range f.Lines {
			for i, b := range l.Branches {
				ran := b.Taken+b.FellThru > 0
				for dir, n := range []uint64{b.Taken, b.FellThru} {
					brFound++
					count := "-" // the jump itself never ran
					if ran {
						count = fmt.Sprint(n)
					}
					if n > 0 {
						brHit++
					}
					fmt.Fprintf(bw, "BRDA:%d,%d,%d,%s\n", l.Number, i, dir, count)
				}
			}
		}
		fmt.Fprintf(bw, "BRF:%d\nBRH:%d\n", brFound, brHit)
		lnHit := 0
		for _, l := range f.Lines {
			fmt.Fprintf(bw, "DA:%d,%d\n", l.Number, l.Hits)
			if l.Hits > 0 {
				lnHit++
			}
		}
		fmt.Fprintf(bw, "LF:%d\nLH:%d\nend_of_record\n", len(f.Lines), lnHit)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing lcov: %w", err)
	}
	return nil
}

// lcovName makes a test name lcov accepts (letters, digits and
// underscores).
func lcovName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}
