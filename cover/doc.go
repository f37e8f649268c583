// Package cover measures which instructions and which branch directions of
// BPF programs ran on skmsg's interpreter, maps them to C source lines
// through the objects' BTF line info, and writes the result as an lcov
// tracefile (read by genhtml and CI coverage services), as a per-program
// summary and as a browsable HTML report.
//
// A Recorder is the vm's coverage hook (vm.Coverage): set it on the
// machines that run the programs (runtime.Options.Coverage does that for a
// whole runtime) and name the programs' objects with Add. Runs of the same
// program loaded several times (one load per scenario) add up. Profile
// takes a snapshot that the writers work from.
package cover
