package scenario

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestEncodeValue(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		err  string
	}{
		{"u8:1", []byte{1}, ""},
		{"u8:-1", []byte{0xff}, ""},
		{"u16:0x1234", []byte{0x34, 0x12}, ""},
		{"u32:5 u32:0", []byte{5, 0, 0, 0, 0, 0, 0, 0}, ""},
		{"u32:-2", []byte{0xfe, 0xff, 0xff, 0xff}, ""},
		{"u64:0x0102030405060708", []byte{8, 7, 6, 5, 4, 3, 2, 1}, ""},
		{"be16:8080", []byte{0x1f, 0x90}, ""},
		{"be32:0x0a000001", []byte{10, 0, 0, 1}, ""},
		{"ip4:10.0.0.1", []byte{10, 0, 0, 1}, ""},
		{"ip6:fd00::1", append([]byte{0xfd}, append(make([]byte, 14), 1)...), ""},
		{"hex:0a0B0c", []byte{10, 11, 12}, ""},
		{"u8:256", nil, `"256" is not a 8-bit number`},
		{"u8:-129", nil, `does not fit a signed 8-bit number`},
		{"ip4:fd00::1", nil, "not an IPv4 address"},
		{"ip6:10.0.0.1", nil, "not an IPv6 address"},
		{"hex:abc", nil, "invalid hex"},
		{"42", nil, "has no type"},
		{"", nil, "empty value"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := EncodeValue(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestPatternBytes(t *testing.T) {
	seq := PatternBytes(PatternSeq, 300, 0)
	require.Equal(t, byte(255), seq[255])
	require.Equal(t, byte(0), seq[256])
	require.Equal(t, byte(43), seq[299])
	require.Equal(t, make([]byte, 5), PatternBytes(PatternZero, 5, 9))

	// random: ChaCha8 seeded with the seed in bytes 0–7, little endian.
	var s [32]byte
	s[0] = 42
	want := make([]byte, 100)
	_, _ = rand.NewChaCha8(s).Read(want)
	require.Equal(t, want, PatternBytes(PatternRandom, 100, 42))
	// Each use starts at offset 0: a shorter run is a prefix.
	require.Equal(t, want[:10], PatternBytes(PatternRandom, 10, 42))
	require.NotEqual(t, want, PatternBytes(PatternRandom, 100, 43))
}

func TestDiffBytes(t *testing.T) {
	d := DiffBytes([]byte("hello world, long enough"), []byte("hello wOrld, long enough"))
	require.Contains(t, d, "expected 24 bytes, got 24; first difference at offset 7")
	require.Contains(t, d, "expected [0] 68 65 6c 6c 6f 20 77 6f")
	require.Contains(t, d, "|hello world, long enoug| …")
	require.Contains(t, d, "|hello wOrld, long enoug| …")

	d = DiffBytes(make([]byte, 100), make([]byte, 40))
	require.Contains(t, d, "expected 100 bytes, got 40; equal up to offset 40 where the shorter one ends")
	require.Contains(t, d, "got      [32] 00 00 00 00 00 00 00 00 |........|")

	d = DiffBytes([]byte{1}, nil)
	require.Contains(t, d, "got      [0] (ends at 0)")
}
