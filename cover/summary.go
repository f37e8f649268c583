package cover

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteSummary prints one line per program: lines, branches and
// instructions covered, with percentages.
func WriteSummary(w io.Writer, p *Profile) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "program\tobject\truns\tlines\t\tbranches\t\tinsns")
	var lines, linesHit, br, brHit, insns, insnsHit int
	for _, prog := range p.Programs {
		obj := prog.Object
		if obj == "" {
			obj = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d/%d\t%.1f%%\t%d/%d\t%.1f%%\t%d/%d\n", prog.Name, obj, prog.Runs,
			prog.LinesHit, prog.Lines, Percent(prog.LinesHit, prog.Lines),
			prog.BranchesHit, prog.Branches, Percent(prog.BranchesHit, prog.Branches),
			prog.InsnsHit, prog.Insns)
		lines, linesHit = lines+prog.Lines, linesHit+prog.LinesHit
		br, brHit = br+prog.Branches, brHit+prog.BranchesHit
		insns, insnsHit = insns+prog.Insns, insnsHit+prog.InsnsHit
	}
	fmt.Fprintf(tw, "total\t\t\t%d/%d\t%.1f%%\t%d/%d\t%.1f%%\t%d/%d\n",
		linesHit, lines, Percent(linesHit, lines), brHit, br, Percent(brHit, br), insnsHit, insns)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the coverage summary: %w", err)
	}
	return nil
}
