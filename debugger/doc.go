// Package debugger is a step debugger for BPF programs running inside a
// scenario: breakpoints on C source lines (BTF line info), on programs and
// functions, on instructions and before scenario steps, with conditions;
// stepping by line or instruction, over, into and out of bpf-to-bpf calls;
// and inspection of registers, the stack, context fields by name, packet
// bytes and maps while a program is stopped.
//
// The Engine is the vm's tracer (vm.Breaker): every instruction of every
// program run passes through its Before hook, which blocks while the run
// is stopped. All runs stop together, and the scenario's own timeouts are
// measured on the engine's PauseClock, so a scenario that sits at a
// breakpoint for a minute behaves as if it never stopped.
//
// Two front ends drive an Engine: a Debug Adapter Protocol server
// (package debugger/dap, for VS Code, nvim-dap and other DAP clients) and
// a terminal (package debugger/term); RunScenario runs a scenario file
// under an engine.
package debugger
