package scenario

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Bounds on what a scenario file may ask for, so that no input can make
// the runner allocate without limit. Streams generate their payload as they
// go and are bounded by MaxStreamSize instead.
const (
	// MaxStepPayload bounds the bytes one send or recv step holds (all of
	// its buffers together).
	MaxStepPayload = 256 << 20
	// MaxFilePayload bounds the bytes of every send and recv payload of a
	// file together.
	MaxFilePayload = 1 << 30
	// maxExpansion bounds the text a file's aliases may expand to: the
	// file's own size times expansionFactor, plus expansionSlack.
	expansionFactor = 16
	expansionSlack  = 1 << 20
)

// checkExpansion refuses a document whose aliases repeat more text than
// the file holds many times over (YAML's "billion laughs": a 1 MB file
// naming one 1 MiB string 2,048 times expands to 2 GiB). It sums the
// scalar bytes each node stands for, aliases followed, with each anchored
// node's size computed once.
func checkExpansion(file string, size int, root *yaml.Node) *Error {
	limit := int64(size)*expansionFactor + expansionSlack
	memo := map[*yaml.Node]int64{}
	var first *yaml.Node // the first alias, for the error's position
	var walk func(n *yaml.Node, depth int) int64
	walk = func(n *yaml.Node, depth int) int64 {
		if n == nil || depth > 10000 {
			return 0
		}
		if v, ok := memo[n]; ok {
			return v
		}
		var total int64
		switch n.Kind {
		case yaml.ScalarNode:
			total = int64(len(n.Value))
		case yaml.AliasNode:
			if first == nil {
				first = n
			}
			total = walk(n.Alias, depth+1)
		default:
			for _, c := range n.Content {
				total += walk(c, depth+1)
				if total > limit {
					break
				}
			}
		}
		memo[n] = total
		return total
	}
	if total := walk(root, 0); total > limit {
		pos := Pos{File: file, Line: 1, Col: 1}
		if first != nil {
			pos.Line, pos.Col = first.Line, first.Column
		}
		return &Error{Pos: pos, Msg: fmt.Sprintf("aliases expand this %d-byte file to more than %d bytes of text; "+
			"the limit is %d times the file's size plus 1 MiB (use size and pattern for big payloads)", size, limit, expansionFactor)}
	}
	return nil
}

// checkPayloads enforces MaxStepPayload and MaxFilePayload.
func (p *parser) checkPayloads(sc *Scenario) {
	var file int64
	for _, list := range [][]*Step{sc.Maps, sc.Steps} {
		for _, s := range list {
			var n int64
			for _, pl := range s.IOV {
				n += pl.size()
			}
			if s.Want != nil {
				n += s.Want.size()
			}
			if n > MaxStepPayload {
				p.errs = append(p.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("%s payload of %d bytes is over the limit of %d per step (stream moves bigger payloads)", s.Kind, n, MaxStepPayload)})
			}
			file += n
			if file > MaxFilePayload {
				p.errs = append(p.errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("the payloads of send and recv steps up to here add up to %d bytes, over the limit of %d per file (stream moves bigger payloads)", file, MaxFilePayload)})
				return
			}
		}
	}
}

// size is the number of bytes the payload stands for.
func (pl *Payload) size() int64 {
	if pl.Pattern != PatternNone {
		return int64(pl.Size)
	}
	return int64(len(pl.Data))
}
