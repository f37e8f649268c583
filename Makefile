# skmsg build, test and testdata rules.

GO      ?= go
CLANG   ?= clang
# Objects must be reproducible from their sources (a test checks it), so
# paths are relative to the repository root and the compilation directory
# recorded in DWARF is fixed.
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Wno-unused-function \
	-fdebug-compilation-dir=. -fdebug-prefix-map=$(CURDIR)=. \
	-I testdata/include -I /usr/include/$(shell uname -m)-linux-gnu

TESTDATA_SRC := $(shell find testdata -name '*.c' -not -path 'testdata/include/*' | sort)
TESTDATA_OBJ := $(TESTDATA_SRC:.c=.o)

.PHONY: all build test race stress testdata bench fuzz fuzz-verifier verifier-verdicts lint print-bpf-cflags clean-testdata kernel-btf

all: build

build:
	$(GO) build ./...

test:
	$(GO) test ./...

# The race detector over the packages where goroutines meet (the virtual
# network, the runtime's program runs and queues, the scenario backends,
# the debugger); -short keeps it to a few minutes on two cores.
RACE_PKGS ?= ./netstack ./runtime/... ./scenario/... ./debugger/...
race:
	$(GO) test -race -short $(RACE_PKGS)

# Every bundled scenario file STRESS_ROUNDS times under the race detector
# with CPU hogs beside it; every run of a file must end as its first did
# (TestStressRepeatable). 2-5 minutes a round on two cores (the stress
# files' big streams); `go test ./...` skips it.
STRESS_ROUNDS ?= 200
stress:
	$(GO) test -race -timeout 0 ./scenario/emulated -run '^TestStressRepeatable$$' -stress.rounds=$(STRESS_ROUNDS) -v

testdata: $(TESTDATA_OBJ)

%.o: %.c $(wildcard testdata/include/*.h) $(wildcard testdata/loader/*.h)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The kernel types skmsg backs with memory (internal/kernelbtf), from this
# machine's kernel BTF, and the C header test programs include to use them
# (testdata/loader/kernel_types.h, beside the trimmed vmlinux.h).
kernel-btf:
	$(GO) generate ./internal/kernelbtf
	bpftool btf dump file internal/kernelbtf/kernel.btf format c | \
		sed 's/__VMLINUX_H__/__SKMSG_KERNEL_TYPES_H__/g' > testdata/loader/kernel_types.h

# Used by the test that checks committed objects against their sources.
print-bpf-cflags:
	@echo $(BPF_CFLAGS)

clean-testdata:
	rm -f $(TESTDATA_OBJ)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# One fuzz target: FUZZ in package FUZZPKG (FuzzVM in ./vm, FuzzParse in
# ./scenario, FuzzOpen in ./loader). -timeout 0: go test's default 10 minutes
# would end a longer FUZZTIME with a panic; a short minimisation keeps a
# single worker fuzzing instead of spending a minute on each new input.
FUZZTIME ?= 1m
FUZZ ?= FuzzVM
FUZZPKG ?= ./vm
FUZZPARALLEL ?= 0
fuzz:
	$(GO) test $(FUZZPKG) -run '^$$' -fuzz '^$(FUZZ)$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x -timeout 0 $(if $(filter-out 0,$(FUZZPARALLEL)),-parallel $(FUZZPARALLEL))

# Differential fuzzing of the verifier against the running kernel (root):
# counts, and the disagreeing programs saved in VFUZZOUT.
VFUZZTIME ?= 10m
VFUZZOUT ?= /tmp/skmsg-verifierfuzz
fuzz-verifier:
	$(GO) run ./internal/cmd/verifierfuzz -duration $(VFUZZTIME) -out $(VFUZZOUT)

# Re-record the kernel's verdicts on the verifier corpus (root).
verifier-verdicts: testdata
	$(GO) test ./verifier -run TestRecordVerdicts -record

# go vet and gofmt over every tracked Go file (run by .ci/run).
lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
