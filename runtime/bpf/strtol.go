package bpf

import (
	"github.com/skmsg/skmsg/internal/errno"
)

const strtoxBaseMask = 0x1F

// kernelSpace is the kernel's isspace (ctype _S: \t\n\v\f\r, space and
// 0xA0).
func kernelSpace(c byte) bool {
	return c == ' ' || c >= '\t' && c <= '\r' || c == 0xA0
}

func hexDigit(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

func lower(c byte) byte { return c | 0x20 }

// strtoull is the kernel's __bpf_strtoull: it returns the bytes consumed
// (leading space and sign included) or a negative errno.
func strtoull(buf []byte, flags uint64) (res uint64, neg bool, consumed int64) {
	base := flags & strtoxBaseMask
	if len(buf) == 0 || base != 0 && base != 8 && base != 10 && base != 16 || flags&^strtoxBaseMask != 0 {
		return 0, false, -int64(errno.EINVAL)
	}
	i := 0
	for i < len(buf) && kernelSpace(buf[i]) {
		i++
	}
	neg = i < len(buf) && buf[i] == '-'
	if neg {
		i++
	}
	if i == len(buf) {
		return 0, neg, -int64(errno.EINVAL)
	}
	var str [64]byte // the kernel parses a NUL-terminated copy of at most 63 bytes
	n := copy(str[:63], buf[i:])
	s := str[:n+1]
	j := 0
	if base == 0 {
		switch {
		case s[0] != '0':
			base = 10
		case lower(s[1]) == 'x' && isXDigit(s, 2):
			base = 16
		default:
			base = 8
		}
	}
	if base == 16 && s[0] == '0' && lower(s[1]) == 'x' {
		j = 2
	}
	start := j
	overflow := false
	for ; s[j] != 0; j++ {
		d, ok := hexDigit(s[j])
		if !ok || d >= base {
			break
		}
		if res&(uint64(0xF)<<60) != 0 && res > (^uint64(0)-d)/base {
			overflow = true
		}
		res = res*base + d
	}
	if overflow {
		return 0, neg, -int64(errno.ERANGE)
	}
	if j == start {
		return 0, neg, -int64(errno.EINVAL)
	}
	return res, neg, int64(i + j)
}

func isXDigit(s []byte, i int) bool {
	if i >= len(s) {
		return false
	}
	_, ok := hexDigit(s[i])
	return ok
}

// strtol is bpf_strtol's result: value and return code.
func strtol(buf []byte, flags uint64) (int64, int64) {
	r, neg, n := strtoull(buf, flags)
	if n < 0 {
		return 0, n
	}
	if neg {
		if int64(-r) > 0 {
			return 0, -int64(errno.ERANGE)
		}
		return int64(-r), n
	}
	if int64(r) < 0 {
		return 0, -int64(errno.ERANGE)
	}
	return int64(r), n
}

// strtoul is bpf_strtoul's result.
func strtoul(buf []byte, flags uint64) (uint64, int64) {
	r, neg, n := strtoull(buf, flags)
	if n < 0 {
		return 0, n
	}
	if neg {
		return 0, -int64(errno.EINVAL)
	}
	return r, n
}
