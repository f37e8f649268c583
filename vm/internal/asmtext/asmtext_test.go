package asmtext

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Encodings checked against llvm-objdump output of clang-built objects and
// against the suite's own "-- raw" section of lddw.data.
func TestEncode(t *testing.T) {
	cases := []struct {
		src   string
		words []uint64
	}{
		{"lddw %r0, 0x1122334455667788\nexit", []uint64{0x5566778800000018, 0x1122334400000000, 0x95}},
		{"rsh %r4, 33", []uint64{0x0000002100000477}},
		{"xor %r4, %r3", []uint64{0x00000000000034af}},
		{"ldxdw %r3, [%r1+0]", []uint64{0x0000000000001379}},
		{"ldxdw %r4, [%r1+16]", []uint64{0x0000000000101479}},
		{"jne %r3, 1500, -12", []uint64{0x000005dcfff40355}},
		{"add32 %r2, %r5", []uint64{0x000000000000520c}},
		{"call local f\nf:\nexit", []uint64{0x0000000000001085, 0x95}},
		{"call 5", []uint64{0x0000000500000085}},
		{"call %r2", []uint64{0x000000000000028d}},
		{"lock add [%r0+0], %r1", []uint64{0x00000000000010db}},
		{"lock fetch xor32 [%r10-8], %r1", []uint64{0x000000a1fff81ac3}},
		{"sdiv %r0, -1", []uint64{0xffffffff00010037}},
		{"movsx1632 %r0, %r1", []uint64{0x00000000001010bc}},
		{"ldxsh %r0, [%r1+2]", []uint64{0x0000000000021089}},
		{"ja32 +3", []uint64{0x0000000300000006}},
		{"be16 %r0", []uint64{0x00000010000000dc}},
		{"bswap64 %r0", []uint64{0x00000040000000d7}},
		{"jeq %r1, 0, exit\nmov %r0, 1\nexit", []uint64{0x0000000000010115, 0x00000001000000b7, 0x95}},
	}
	for _, c := range cases {
		slots, err := Encode(c.src)
		require.NoError(t, err, c.src)
		var got []uint64
		for _, s := range slots {
			got = append(got, s.Word())
		}
		require.Equal(t, c.words, got, "%s: got %#x", c.src, got)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, src := range []string{"frob %r0", "mov %r16, 1", "ja nowhere", "ldxw %r0, %r1", "l:\nl:\nexit", "lock nand [%r1], %r2"} {
		_, err := Encode(src)
		require.Error(t, err, src)
	}
}
