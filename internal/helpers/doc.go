// Package helpers is skmsg's table of the BPF helpers the kernel lets each
// sockmap program type call: its sk_msg_func_proto, sk_skb_func_proto and
// sock_ops_func_proto switches together with the generic
// bpf_sk_base_func_proto and bpf_base_func_proto they fall back to.
//
// The table is data, not code: kernel_helpers.txt was recorded from the
// running kernel by loading, for every helper ID and program type, a
// minimal program that calls the helper and reading the verifier's answer
// ("program of this type cannot use helper" means refused; any other
// answer, an argument type complaint included, means the helper's
// prototype exists for the type). TestKernelHelperTable repeats the probe
// on the kernel it runs on and fails on any difference; run it with
// -update to record a new kernel.
//
// The runtime (what skmsg implements) and the static verifier (which
// prototypes a program may call) both read this one table, so that what
// skmsg accepts is what the kernel accepts: a helper the kernel refuses is
// refused with the kernel's words, and a helper the kernel accepts but
// skmsg does not implement is reported as not supported rather than as a
// program error.
package helpers
