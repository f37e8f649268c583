/*
 * Shared definitions of the verifier corpus: every program here is a probe
 * of one verifier rule; the kernel's verdict for each is recorded in
 * verdicts.json (see verifier/corpus_test.go). Program names say what they
 * test, not what the kernel answers: the recorded verdict is the truth.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MSG(name) SEC("sk_msg") int name(struct sk_msg_md *msg)
#define PARSER(name) SEC("sk_skb/stream_parser") int name(struct __sk_buff *skb)
#define SVERDICT(name) SEC("sk_skb/stream_verdict") int name(struct __sk_buff *skb)
#define VERDICT(name) SEC("sk_skb/verdict") int name(struct __sk_buff *skb)
#define SOCKOPS(name) SEC("sockops") int name(struct bpf_sock_ops *skops)

/* Programs written as instructions, where C cannot express the edge. */
#define NAKED(sec, name) SEC(sec) __attribute__((naked)) void name(void)
#define __imm(name) [name] "i"(name)
#define __imm_addr(name) [name] "i"(&name)
#define __clobber_all "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "memory"

/* Data pointers of __sk_buff are 32-bit fields the verifier widens. */
#define SKB_DATA(skb) ((void *)(long)(skb)->data)
#define SKB_END(skb) ((void *)(long)(skb)->data_end)

/* Hides a constant from clang so a check it would fold stays in code. */
#define OPAQUE(v) ({ typeof(v) __v = (v); asm volatile("" : "+r"(__v)); __v; })

struct val16 {
	__u8 b[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct val16);
} arr16 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u64);
} hash64 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_hash SEC(".maps");

char _license[] SEC("license") = "GPL";
