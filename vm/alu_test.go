package vm_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Each case leaves its result in r0; the sources set r0 from scratch so a
// wrong operation cannot pass by accident with a zero register.
func TestALU(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want uint64
	}{
		{"add64 wraps", "lddw %r0, 0xffffffffffffffff\nadd %r0, 2\nexit", 1},
		{"add32 zeroes upper half", "lddw %r0, 0x1ffffffff\nadd32 %r0, 1\nexit", 0},
		{"sub32 zeroes upper half", "lddw %r0, 0xff00000005\nsub32 %r0, 6\nexit", 0xffffffff},
		{"mov32 reg zero-extends", "lddw %r1, 0xaaaaaaaabbbbbbbb\nmov32 %r0, %r1\nexit", 0xbbbbbbbb},
		{"mov64 imm sign-extends", "mov %r0, -1\nexit", 0xffffffffffffffff},
		{"mov32 imm zero-extends", "mov32 %r0, -1\nexit", 0xffffffff},
		{"mul32 truncates", "mov %r0, 0x10000\nmul32 %r0, 0x10000\nexit", 0},
		{"div64 by zero reg", "mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1\nexit", 0},
		{"div64 by zero imm", "mov %r0, 7\ndiv %r0, 0\nexit", 0},
		{"div32 by zero", "lddw %r0, 0x100000007\nmov %r1, 0\ndiv32 %r0, %r1\nexit", 0},
		{"div32 ignores upper divisor bits", "mov %r0, 12\nlddw %r1, 0x100000003\ndiv32 %r0, %r1\nexit", 4},
		{"mod64 by zero keeps dst", "mov %r0, 7\nmov %r1, 0\nmod %r0, %r1\nexit", 7},
		{"mod32 by zero zero-extends", "lddw %r0, 0x100000007\nmov %r1, 0\nmod32 %r0, %r1\nexit", 7},
		{"mod64", "mov %r0, 17\nmod %r0, 5\nexit", 2},
		{"sdiv64 negative", "mov %r0, -7\nsdiv %r0, 2\nexit", 0xfffffffffffffffd},
		{"sdiv64 INT_MIN by -1", "lddw %r0, 0x8000000000000000\nsdiv %r0, -1\nexit", 0x8000000000000000},
		{"sdiv32 INT_MIN by -1", "mov32 %r0, 0x80000000\nmov %r1, -1\nsdiv32 %r0, %r1\nexit", 0x80000000},
		{"sdiv64 by zero", "mov %r0, -7\nsdiv %r0, 0\nexit", 0},
		{"smod64 INT_MIN by -1", "lddw %r0, 0x8000000000000000\nsmod %r0, -1\nexit", 0},
		{"smod64 sign follows dividend", "mov %r0, -7\nsmod %r0, 3\nexit", 0xffffffffffffffff},
		{"smod32 by zero zero-extends", "mov %r0, -7\nmov %r1, 0\nsmod32 %r0, %r1\nexit", 0xfffffff9},
		{"lsh64 masks amount", "mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit", 2},
		{"lsh32 masks amount", "mov %r0, 1\nmov %r1, 33\nlsh32 %r0, %r1\nexit", 2},
		{"rsh32 of upper bits", "lddw %r0, 0xffffffff00000010\nrsh32 %r0, 4\nexit", 1},
		{"arsh64", "mov %r0, -16\narsh %r0, 2\nexit", 0xfffffffffffffffc},
		{"arsh32 zero-extends", "mov32 %r0, 0x80000000\narsh32 %r0, 4\nexit", 0xf8000000},
		{"neg64", "mov %r0, 5\nneg %r0\nexit", 0xfffffffffffffffb},
		{"neg32", "mov %r0, 5\nneg32 %r0\nexit", 0xfffffffb},
		{"xor/or/and", "mov %r0, 0xf0\nor %r0, 0x0f\nxor %r0, 0x3c\nand %r0, 0x3f\nexit", 0x03},
		{"movsx8 to 64", "mov %r1, 0x80\nmovsx864 %r0, %r1\nexit", 0xffffffffffffff80},
		{"movsx16 to 32", "mov %r1, 0x8000\nmovsx1632 %r0, %r1\nexit", 0xffff8000},
		{"movsx32 to 64", "mov32 %r1, 0x80000000\nmovsx3264 %r0, %r1\nexit", 0xffffffff80000000},
		{"be16", "mov %r0, 0x11223344\nbe16 %r0\nexit", 0x4433},
		{"be32", "lddw %r0, 0x1122334455667788\nbe32 %r0\nexit", 0x88776655},
		{"be64", "lddw %r0, 0x1122334455667788\nbe64 %r0\nexit", 0x8877665544332211},
		{"le16 truncates", "mov %r0, 0x11223344\nle16 %r0\nexit", 0x3344},
		{"le32 truncates", "lddw %r0, 0x1122334455667788\nle32 %r0\nexit", 0x55667788},
		{"le64 keeps", "lddw %r0, 0x1122334455667788\nle64 %r0\nexit", 0x1122334455667788},
		{"bswap16", "mov %r0, 0x11223344\nbswap16 %r0\nexit", 0x4433},
		{"bswap64", "lddw %r0, 0x0102030405060708\nbswap64 %r0\nexit", 0x0807060504030201},
		{"lddw", "lddw %r0, 0xdeadbeefcafef00d\nexit", 0xdeadbeefcafef00d},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r0, err := run(t, c.src, 0)
			require.NoError(t, err)
			require.Equal(t, c.want, r0, "r0 = %#x, want %#x", r0, c.want)
		})
	}
}

func TestJumps(t *testing.T) {
	// Each program returns 1 when the jump is taken, 2 when not.
	cases := []struct {
		name  string
		setup string
		jump  string
		taken bool
	}{
		{"jeq imm sign-extends", "lddw %r1, 0xffffffffffffffff", "jeq %r1, -1, yes", true},
		{"jeq32 ignores upper", "lddw %r1, 0x1200000005", "jeq32 %r1, 5, yes", true},
		{"jgt unsigned", "mov %r1, -1", "jgt %r1, 5, yes", true},
		{"jsgt signed", "mov %r1, -1", "jsgt %r1, 5, yes", false},
		{"jslt signed", "mov %r1, -1", "jslt %r1, 0, yes", true},
		{"jslt32 signed", "mov32 %r1, 0xffffffff", "jslt32 %r1, 0, yes", true},
		{"jlt32 unsigned", "mov32 %r1, 0xffffffff", "jlt32 %r1, 0, yes", false},
		{"jge reg", "mov %r1, 5\nmov %r2, 5", "jge %r1, %r2, yes", true},
		{"jle reg", "mov %r1, 6\nmov %r2, 5", "jle %r1, %r2, yes", false},
		{"jset", "mov %r1, 6", "jset %r1, 1, yes", false},
		{"jset32 upper bits ignored", "lddw %r1, 0x100000000", "jset32 %r1, -1, yes", false},
		{"jne", "mov %r1, 6", "jne %r1, 6, yes", false},
		{"jsge32", "mov32 %r1, 0x80000000", "jsge32 %r1, 0, yes", false},
		{"jsle", "mov %r1, -3", "jsle %r1, -3, yes", true},
		{"ja", "", "ja yes", true},
		{"ja32 (gotol)", "", "ja32 yes", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.setup + "\n" + c.jump + "\nmov %r0, 2\nexit\nyes:\nmov %r0, 1\nexit"
			r0, err := run(t, src, 0)
			require.NoError(t, err)
			want := uint64(2)
			if c.taken {
				want = 1
			}
			require.Equal(t, want, r0)
		})
	}
}
