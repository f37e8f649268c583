package bpf

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/vm"
)

// strIn and strOut mirror struct in and struct out of strfn.c.
type strIn struct {
	Buf    [32]byte
	Len    uint32
	Flags  uint32
	Fmt    [64]byte
	Args   [3]uint64
	StrArg uint32
	_      uint32
	More   [9]uint64
	NArgs  uint32
	_      uint32
}

type strOut struct {
	StrtolRet, StrtolRes int64
	StrtoulRet           int64
	StrtoulRes           uint64
	Cmp                  [3]int64
	PrintkRet            int64
	VprintkRet           int64
	SnprintfRet          int64
	SnprintfSmallRet     int64
	Sbuf                 [48]byte
	SbufSmall            [8]byte
}

type strCase struct {
	buf    string
	len    uint32 // 0: len(buf)+1 (the NUL included), capped at 32
	flags  uint32
	fmt    string
	args   [3]uint64
	strArg uint32
	more   [9]uint64
	nargs  uint32
}

func (c strCase) input() strIn {
	var in strIn
	copy(in.Buf[:], c.buf)
	in.Len = c.len
	if in.Len == 0 {
		in.Len = uint32(min(len(c.buf)+1, 32))
	}
	in.Flags = c.flags
	copy(in.Fmt[:], c.fmt)
	in.Args = c.args
	in.StrArg = c.strArg
	in.More = c.more
	in.NArgs = c.nargs
	return in
}

func strCases() []strCase {
	var cs []strCase
	for _, s := range []struct {
		buf   string
		len   uint32
		flags uint32
	}{
		{"123", 0, 0}, {"  -42", 0, 0}, {"0x1f", 0, 0}, {"0X1F", 0, 0}, {"0x", 0, 0}, {"0xg", 0, 0},
		{"017", 0, 0}, {"08", 0, 0}, {"-", 0, 0}, {"", 0, 0}, {" ", 0, 0}, {"\t\n12abc", 0, 0}, {"+5", 0, 0},
		{"99999999999999999999", 0, 0}, {"9223372036854775807", 0, 0}, {"9223372036854775808", 0, 0},
		{"-9223372036854775808", 0, 0}, {"-9223372036854775809", 0, 0}, {"18446744073709551615", 0, 0},
		{"18446744073709551616", 0, 0}, {"ff", 0, 16}, {"0x10", 0, 16}, {"0x10", 0, 10}, {"10", 0, 8},
		{"10", 0, 2}, {"10", 0, 0x20}, {"12345", 3, 0}, {"12345", 5, 0}, {"-0", 0, 0}, {"  ", 2, 0},
		{"hello", 0, 0}, {"hello", 5, 0}, {"hell", 0, 0}, {"hellp", 0, 0}, {"hello world, long", 0, 0},
		{"hello world, long!", 0, 0}, {"0000000000000000000000000000001", 0, 0},
	} {
		cs = append(cs, strCase{buf: s.buf, len: s.len, flags: s.flags, fmt: "x"})
	}
	for _, f := range []struct {
		fmt    string
		args   [3]uint64
		strArg uint32
	}{
		{"hello", [3]uint64{}, 0},
		{"%d", [3]uint64{0xFFFFFFFF}, 0},
		{"%d %u %x", [3]uint64{0xFFFFFFFE, 0xFFFFFFFE, 0xABCDEF}, 0},
		{"%ld %lu %lx", [3]uint64{1 << 63, 1 << 63, 1 << 40}, 0},
		{"%lld %llu %llX", [3]uint64{^uint64(0), ^uint64(0), 0xABCDEF}, 0},
		{"%5d|%-5d|%05d", [3]uint64{42, 42, 42}, 0},
		{"%+d % d %+u", [3]uint64{7, 7, 7}, 0},
		{"%c%c%c", [3]uint64{'a', 'b', 'c'}, 0},
		{"100%% %i", [3]uint64{3}, 0},
		{"[%s]", [3]uint64{}, 1},
		{"[%10s][%-6s]", [3]uint64{}, 3},
		{"%px", [3]uint64{0x1234}, 0},
		{"%q", [3]uint64{}, 0},
		{"%d %d %d %d", [3]uint64{1, 2, 3}, 0},
		{"%lli %llx", [3]uint64{5, 6}, 0},
		{"bad \x01 char", [3]uint64{}, 0},
		{"tab\tnewline\n", [3]uint64{}, 0},
		{"%hd", [3]uint64{1}, 0},
		{"%lu%", [3]uint64{1}, 0},
		{"%08x|%-8x|%x", [3]uint64{0xbeef, 0xbeef, 0}, 0},
		{"%3c|%-3c|", [3]uint64{'z', 'y'}, 0},
		{"%s", [3]uint64{0}, 0},
		{"[%05s][%03c][% x]", [3]uint64{0, 'q', 5}, 1},
		{"%-+5d|%+-5d|%0-5d|", [3]uint64{3, 3, 3}, 0},
		{"%pK %p", [3]uint64{1, 2}, 0},
		{"%pI4 %pi6", [3]uint64{}, 3},
		{"%pI6", [3]uint64{}, 1},
		{"%pS", [3]uint64{}, 1},
	} {
		cs = append(cs, strCase{buf: "hello there", fmt: f.fmt, args: f.args, strArg: f.strArg, nargs: 3})
	}
	// trace_vprintk with more arguments, and argument counts that do not
	// match the format.
	more := [9]uint64{4, 5, 6, 7, 8, 9, 10, 11, 12}
	for _, v := range []struct {
		fmt   string
		nargs uint32
	}{
		{"%d %d %d %d %d %d %d %d %d %d %d %d", 12},
		{"%d %d %d %d %d %d %d %d %d %d %d %d", 11},
		{"%d %d %d %d %d %d %d %d %d %d %d %d %d", 12},
		{"%d %d", 0},
		{"plain", 0},
		{"%lld %s", 5},
	} {
		cs = append(cs, strCase{buf: "vp", fmt: v.fmt, args: [3]uint64{1, 2, 3}, more: more, nargs: v.nargs})
	}
	return cs
}

// TestKernelStringHelpers runs strfn.o on the kernel and on the vm for
// every input and compares all results (return codes, parsed values,
// comparison results, printk output lengths).
func TestKernelStringHelpers(t *testing.T) {
	kernelMapsAllowed(t)
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("maps", "strfn.o"))
	require.NoError(t, err)
	kc := kernelCollection(t, spec)
	defer kc.Close()
	var printed []string
	ec := loadObject(t, "strfn.o", Env{Printk: func(_ *vm.Machine, s string) { printed = append(printed, s) }})
	m := ec.space.NewMachine()
	diverged := 0
	for i, c := range strCases() {
		in := c.input()
		require.NoError(t, kc.Maps["str_in"].Put(uint32(0), in))
		_, err := kc.Programs["strfn"].Run(&ebpf.RunOptions{Data: make([]byte, 64)})
		require.NoError(t, err)
		var want strOut
		require.NoError(t, kc.Maps["str_out"].Lookup(uint32(0), &want))

		require.NoError(t, ec.maps["str_in"].Put(uint32(0), in))
		ec.run(t, m, "strfn")
		var got strOut
		require.NoError(t, ec.maps["str_out"].Lookup(uint32(0), &got))
		if i == 0 {
			t.Logf("kernel: snprintf %q (%d), small %q (%d), vprintk %d", want.Sbuf[:], want.SnprintfRet, want.SbufSmall[:], want.SnprintfSmallRet, want.VprintkRet)
		}
		if !assert.Equal(t, want, got, "case %d %+v (last printk %q)", i, c, last(printed)) {
			diverged++
		}
	}
	t.Logf("compared %d helper runs (11 results each), %d diverged", len(strCases()), diverged)
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}
