package bpf

import (
	"syscall"
	"testing"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/assert"

	"github.com/skmsg/skmsg/vm"
)

// The expected strings have the lengths the kernel's bpf_trace_printk
// returned for the same formats (TestKernelStringHelpers).
func TestFormatPrintk(t *testing.T) {
	m := vm.NewSpace().NewMachine()
	str := m.AddRegion(vm.Region{Name: "s", Data: []byte("abc\x00"), Perm: vm.PermRead})
	ip := m.AddRegion(vm.Region{Name: "ip", Data: []byte{10, 0, 0, 1}, Perm: vm.PermRead})
	for _, tc := range []struct {
		format string
		args   []uint64
		want   string
		errno  syscall.Errno
	}{
		{"plain", nil, "plain", 0},
		{"%d|%u|%x|%X", []uint64{0xFFFFFFFF, 0xFFFFFFFF, 0xABC, 0xABC}, "-1|4294967295|abc|ABC", 0},
		{"%ld %lu %llx", []uint64{1 << 63, 1 << 63, 1 << 40}, "-9223372036854775808 9223372036854775808 10000000000", 0},
		{"%5d|%-5d|%05d", []uint64{42, 42, 42}, "   42|42   |00042", 0},
		{"%+d % d %+u % x", []uint64{7, 7, 7, 7}, "+7  7 7 7", 0},
		{"%c%c 100%%", []uint64{'o', 'k'}, "ok 100%", 0},
		{"[%s][%5s][%-4s]", []uint64{str, str, str}, "[abc][  abc][abc ]", 0},
		{"[%s]", []uint64{0x10}, "[]", 0},
		{"%pI4", []uint64{ip}, "10.0.0.1", 0},
		{"%px", []uint64{0x1234}, "0000000000001234", 0},
		{"%i %lli", []uint64{5, 6}, "5 6", 0},
		{"%q", []uint64{1}, "", errno.EINVAL},
		{"%hd", []uint64{1}, "", errno.EINVAL},
		{"%d %d", []uint64{1}, "", errno.EINVAL},
		{"bad \x01", nil, "", errno.EINVAL},
		{"é", nil, "", errno.EINVAL},
	} {
		got, errno := formatPrintk(m, []byte(tc.format), tc.args)
		assert.Equal(t, tc.errno, errno, "%q", tc.format)
		assert.Equal(t, tc.want, got, "%q", tc.format)
	}
}

func TestStrtol(t *testing.T) {
	for _, tc := range []struct {
		in    string
		flags uint64
		val   int64
		ret   int64
		uval  uint64
		uret  int64
	}{
		{"123", 0, 123, 3, 123, 3},
		{"  -42", 0, -42, 5, 0, -22},
		{"0x1f", 0, 31, 4, 31, 4},
		{"0x", 0, 0, 1, 0, 1},
		{"017", 0, 15, 3, 15, 3},
		{"08", 0, 0, 1, 0, 1},
		{"ff", 16, 255, 2, 255, 2},
		{"10", 2, 0, -22, 0, -22},
		{"10", 0x20, 0, -22, 0, -22},
		{"-", 0, 0, -22, 0, -22},
		{"", 0, 0, -22, 0, -22},
		{"9223372036854775808", 0, 0, -34, 1 << 63, 19},
		{"-9223372036854775808", 0, -1 << 63, 20, 0, -22},
		{"18446744073709551616", 0, 0, -34, 0, -34},
	} {
		v, r := strtol([]byte(tc.in), tc.flags)
		assert.Equal(t, [2]int64{tc.val, tc.ret}, [2]int64{v, r}, "strtol %q", tc.in)
		u, ur := strtoul([]byte(tc.in), tc.flags)
		if ur < 0 {
			u = 0
		}
		assert.Equal(t, tc.uval, u, "strtoul %q", tc.in)
		assert.Equal(t, tc.uret, ur, "strtoul %q", tc.in)
	}
}
