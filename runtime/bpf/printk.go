package bpf

import (
	"fmt"
	"net/netip"
	"slices"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/skmsg/skmsg/vm"
)

const (
	maxPrintkArgs = 3
	maxPrintkBuf  = 1024 // MAX_BPRINTF_BUF: longest output
	maxPrintkStr  = 512  // longest %s argument read
)

// errPrintk is the -EINVAL a bad format gets.
var errPrintk = errno.EINVAL

// formatPrintk formats fmt (without its NUL) as bpf_trace_printk does,
// with the kernel's bpf_bprintf_prepare rules: printable ASCII only, at
// most three conversions among %d %i %u %x %X with l/ll, %c, %s, %p
// (%px %pK %pI4 %pi4 %pI6 %pi6), flags [0 +-] and a width.
func formatPrintk(m *vm.Machine, format []byte, args []uint64) (string, syscall.Errno) {
	out := make([]byte, 0, 64)
	nspec := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c >= 0x80 || !(c >= 0x20 && c < 0x7f || kernelSpace(c)) {
			return "", errPrintk
		}
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			out = append(out, '%')
			i++
			continue
		}
		if nspec >= len(args) {
			return "", errPrintk
		}
		arg := args[nspec]
		nspec++
		i++
		at := func(j int) byte {
			if j < len(format) {
				return format[j]
			}
			return 0
		}
		spec := []byte{'%'}
		for at(i) == '0' || at(i) == '+' || at(i) == '-' || at(i) == ' ' {
			spec = append(spec, at(i))
			i++
		}
		if at(i) >= '1' && at(i) <= '9' {
			for at(i) >= '0' && at(i) <= '9' {
				spec = append(spec, at(i))
				i++
			}
		}
		switch at(i) {
		case 'p':
			s, n, e := formatPointer(m, format[i:], arg)
			if e != 0 {
				return "", e
			}
			i += n - 1
			out = fmt.Appendf(out, string(spec)+"s", s)
			continue
		case 's':
			out = fmt.Appendf(out, string(spec)+"s", readCString(m, arg, maxPrintkStr))
			continue
		case 'c':
			out = fmt.Appendf(out, string(spec)+"c", rune(byte(arg)))
			continue
		}
		size := 4
		if at(i) == 'l' {
			size = 8
			i++
		}
		if at(i) == 'l' {
			i++
		}
		verb := at(i)
		var v any
		switch verb {
		case 'd', 'i':
			verb = 'd'
			if size == 4 {
				v = int32(arg)
			} else {
				v = int64(arg)
			}
		case 'u', 'x', 'X':
			if verb == 'u' {
				verb = 'd'
			}
			// The kernel only signs signed conversions.
			spec = slices.DeleteFunc(spec, func(c byte) bool { return c == '+' || c == ' ' })
			if size == 4 {
				v = uint32(arg)
			} else {
				v = arg
			}
		default:
			return "", errPrintk
		}
		out = fmt.Appendf(out, string(spec)+string(verb), v)
	}
	if len(out) > maxPrintkBuf-1 {
		out = out[:maxPrintkBuf-1]
	}
	return string(out), 0
}

// formatPointer handles the %p family; n is how many format bytes it
// used (the 'p' included).
func formatPointer(m *vm.Machine, f []byte, arg uint64) (string, int, syscall.Errno) {
	at := func(j int) byte {
		if j < len(f) {
			return f[j]
		}
		return 0
	}
	switch at(1) {
	case 'x':
		return fmt.Sprintf("%016x", arg), 2, 0
	case 'K':
		return "0000000000000000", 2, 0 // kptr_restrict hides kernel pointers
	case 'B', 's', 'S':
		// Symbol names: there are no kernel symbols here, and the kernel
		// prints an address without one as 0x and its hex digits.
		return fmt.Sprintf("0x%016x", arg), 2, 0
	case 'k', 'u':
		if at(2) != 's' {
			return "", 0, errPrintk
		}
		return readCString(m, arg, maxPrintkStr), 3, 0
	case 'i', 'I':
		var n int
		switch at(2) {
		case '4':
			n = 4
		case '6':
			n = 16
		default:
			return "", 0, errPrintk
		}
		b, err := m.Bytes(arg, n, vm.PermRead)
		if err != nil {
			return "(efault)", 3, 0
		}
		if n == 4 {
			return netip.AddrFrom4([4]byte(b)).String(), 3, 0
		}
		if at(1) == 'i' { // %pi6: 32 hex digits without colons
			return fmt.Sprintf("%x", b), 3, 0
		}
		var s []byte
		for i := 0; i < 16; i += 2 {
			if i > 0 {
				s = append(s, ':')
			}
			s = fmt.Appendf(s, "%02x%02x", b[i], b[i+1])
		}
		return string(s), 3, 0
	}
	// Plain %p: the kernel prints a hashed value in 16 hex digits; the raw
	// value is more useful offline and has the same width.
	return fmt.Sprintf("%016x", arg), 1, 0
}

// readCString reads a NUL-terminated string of at most max bytes from
// program memory; unreadable memory gives an empty string as the kernel's
// failed strncpy_from_kernel_nofault.
func readCString(m *vm.Machine, addr uint64, max int) string {
	var s []byte
	for len(s) < max-1 {
		b, err := m.Bytes(addr+uint64(len(s)), 1, vm.PermRead)
		if err != nil {
			return ""
		}
		if b[0] == 0 {
			break
		}
		s = append(s, b[0])
	}
	return string(s)
}
