// Runs bpf_strtol, bpf_strtoul, bpf_strncmp and bpf_trace_printk on inputs
// taken from a map and stores every result in another map, so that the
// same inputs can be compared between the kernel (BPF_PROG_TEST_RUN) and
// the emulator.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct in {
	char buf[32];
	__u32 len;   // bytes of buf given to strtol/strncmp, 1..32
	__u32 flags; // strtol base/flags
	char fmt[64];
	__u64 args[3];
	__u32 str_arg; // bit i: pass &buf as printk argument i
	__u32 pad;
	__u64 more[9]; // trace_vprintk arguments 3..11
	__u32 nargs;   // trace_vprintk argument count, 0..12
	__u32 pad2;
};

struct out {
	__s64 strtol_ret;
	__s64 strtol_res;
	__s64 strtoul_ret;
	__u64 strtoul_res;
	__s64 cmp[3];
	__s64 printk_ret;
	__s64 vprintk_ret;
	__s64 snprintf_ret;
	__s64 snprintf_small_ret;
	char sbuf[48];
	char sbuf_small[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct in);
} str_in SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct out);
} str_out SEC(".maps");

const char s_hello[] = "hello";
const char s_empty[] = "";
const char s_long[] = "hello world, long";
const char s_fmt[] = "%d-%s-%llx|%5u|%c";

SEC("socket")
int strfn(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct in *in = bpf_map_lookup_elem(&str_in, &k);
	struct out *o = bpf_map_lookup_elem(&str_out, &k);
	if (!in || !o)
		return 0;
	__u32 len = ((in->len - 1) & 31) + 1;
	long res = 0x5a5a;
	unsigned long ures = 0x5a5a;

	o->strtol_ret = bpf_strtol(in->buf, len, in->flags, &res);
	o->strtol_res = res;
	o->strtoul_ret = bpf_strtoul(in->buf, len, in->flags, &ures);
	o->strtoul_res = ures;
	o->cmp[0] = bpf_strncmp(in->buf, len, s_hello);
	o->cmp[1] = bpf_strncmp(in->buf, len, s_empty);
	o->cmp[2] = bpf_strncmp(in->buf, len, s_long);

	__u64 a0 = in->args[0], a1 = in->args[1], a2 = in->args[2];
	if (in->str_arg & 1)
		a0 = (__u64)in->buf;
	if (in->str_arg & 2)
		a1 = (__u64)in->buf;
	if (in->str_arg & 4)
		a2 = (__u64)in->buf;
	o->printk_ret = bpf_trace_printk(in->fmt, sizeof(in->fmt), a0, a1, a2);

	__u64 v[12] = { a0, a1, a2 };
	for (int i = 0; i < 9; i++)
		v[3 + i] = in->more[i];
	__u32 n = in->nargs;
	if (n > 12)
		n = 12;
	o->vprintk_ret = bpf_trace_vprintk(in->fmt, sizeof(in->fmt), v, n * 8);
	__u64 sv[5] = { in->args[0], (__u64)in->buf, in->args[1], in->args[2], 'Q' };
	o->snprintf_ret = bpf_snprintf(o->sbuf, sizeof(o->sbuf), s_fmt, sv, sizeof(sv));
	o->snprintf_small_ret = bpf_snprintf(o->sbuf_small, sizeof(o->sbuf_small), s_fmt, sv, sizeof(sv));
	return 0;
}

char _license[] SEC("license") = "GPL";
