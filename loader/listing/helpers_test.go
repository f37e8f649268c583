package listing_test

import (
	"strconv"
	"strings"
)

// fmtSscanf parses a listing line "  NN: text" into pc and text.
func fmtSscanf(line string, pc *int, rest *string) (int, error) {
	num, text, ok := strings.Cut(strings.TrimSpace(line), ": ")
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0, nil
	}
	*pc, *rest = n, text
	return 2, nil
}
