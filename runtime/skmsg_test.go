package runtime

import (
	"testing"

	"github.com/skmsg/skmsg/internal/errno"

	"github.com/stretchr/testify/require"
)

// buildMsg makes a message whose elements have the given lengths and whose
// content is byte i = i mod 251 across the whole message.
func buildMsg(t *testing.T, lens ...uint32) (*Msg, []byte) {
	t.Helper()
	m := newMsg()
	var all []byte
	for _, l := range lens {
		pg := newPage(int(l), false)
		for j := uint32(0); j < l; j++ {
			pg.b[j] = byte(len(all) % 251)
			all = append(all, pg.b[j])
		}
		m.sg[m.n] = sge{pg: pg, length: l}
		m.n++
		m.size += l
	}
	m.computeDataPointers()
	return m, all
}

func elemLens(m *Msg) []uint32 {
	out := []uint32{}
	for i := 0; i < m.n; i++ {
		out = append(out, m.sg[i].length)
	}
	return out
}

func seqLens(n int, l uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = l
	}
	return out
}

func TestMsgFill(t *testing.T) {
	tests := []struct {
		name   string
		iov    []int
		max    int
		copied int
		enospc bool
		lens   []uint32
	}{
		{"one byte", []int{1}, 1, 1, false, []uint32{1}},
		{"64 KiB in two fragments", []int{65536}, 65536, 65536, false, []uint32{32768, 32768}},
		{"iov coalesces into one fragment", []int{3, 5, 7}, 15, 15, false, []uint32{15}},
		{"ring fills", []int{18 * 32768}, 18 * 32768, 17 * 32768, true, seqLens(17, 32768)},
		{"partial last fragment", []int{40000}, 40000, 40000, false, []uint32{32768, 7232}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var iov [][]byte
			var want []byte
			for _, n := range tt.iov {
				b := make([]byte, n)
				for i := range b {
					b[i] = byte(len(want) + i)
				}
				want = append(want, b...)
				iov = append(iov, b)
			}
			m := newMsg()
			defer m.release()
			copied, enospc := m.fill(iov, 0, tt.max)
			require.Equal(t, tt.copied, copied)
			require.Equal(t, tt.enospc, enospc)
			require.Equal(t, tt.lens, elemLens(m))
			require.Equal(t, want[:copied], m.Bytes(nil))
		})
	}
}

func TestMsgPull(t *testing.T) {
	tests := []struct {
		name       string
		lens       []uint32
		start, end uint32
		flags      uint64
		ret        int64
		after      []uint32
		dataElem   int
		dataLen    uint32
	}{
		{"flags", []uint32{10}, 0, 1, 1, -int64(errno.EINVAL), []uint32{10}, 0, 10},
		{"end<=start", []uint32{10}, 5, 5, 0, -int64(errno.EINVAL), []uint32{10}, 0, 10},
		{"start>=size", []uint32{10}, 10, 11, 0, -int64(errno.EINVAL), []uint32{10}, 0, 10},
		{"end>size", []uint32{10}, 5, 11, 0, -int64(errno.EINVAL), []uint32{10}, 0, 10},
		{"inside first", []uint32{10, 10}, 1, 2, 0, 0, []uint32{10, 10}, 0, 1},
		{"inside second", []uint32{10, 10}, 12, 20, 0, 0, []uint32{10, 10}, 1, 8},
		{"across two", []uint32{10, 10, 10}, 5, 15, 0, 0, []uint32{20, 10}, 0, 10},
		{"across three from second", []uint32{10, 10, 10, 10}, 15, 35, 0, 0, []uint32{10, 30}, 1, 20},
		{"test_sockmap 4096..9182", []uint32{32768, 32768}, 4096, 9182, 0, 0, []uint32{32768, 32768}, 0, 5086},
		{"whole ring", seqLens(17, 100), 0, 1700, 0, 0, []uint32{1700}, 0, 1700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, all := buildMsg(t, tt.lens...)
			defer m.release()
			ret := m.Pull(tt.start, tt.end, tt.flags)
			require.Equal(t, tt.ret, ret)
			require.Equal(t, tt.after, elemLens(m))
			require.Equal(t, all, m.Bytes(nil), "pull never changes content")
			require.Equal(t, tt.dataElem, m.dataElem)
			require.Equal(t, int(tt.dataLen), len(m.Data()))
			if ret == 0 {
				require.Equal(t, all[tt.start:tt.end], m.Data())
			}
		})
	}
}

func TestMsgPush(t *testing.T) {
	tests := []struct {
		name       string
		lens       []uint32
		start, len uint32
		flags      uint64
		ret        int64
		after      []uint32
	}{
		{"flags", []uint32{10}, 0, 1, 1, -int64(errno.EINVAL), []uint32{10}},
		{"len 0 no-op", []uint32{10}, 0, 0, 0, 0, []uint32{10}},
		{"start>size", []uint32{10}, 11, 1, 0, -int64(errno.EINVAL), []uint32{10}},
		{"at 0", []uint32{10}, 0, 4, 0, 0, []uint32{4, 10}},
		{"append at size", []uint32{10}, 10, 4, 0, 0, []uint32{10, 4}},
		{"inside first", []uint32{10}, 3, 4, 0, 0, []uint32{3, 4, 7}},
		{"boundary", []uint32{10, 10}, 10, 4, 0, 0, []uint32{10, 4, 10}},
		{"inside second", []uint32{10, 10}, 13, 2, 0, 0, []uint32{10, 3, 2, 7}},
		{"one slot free, boundary", seqLens(16, 10), 20, 5, 0, 0, append([]uint32{10, 10, 5}, seqLens(14, 10)...)},
		{"one slot free, inside merges", seqLens(16, 10), 23, 5, 0, 0, append([]uint32{10, 10, 15}, seqLens(13, 10)...)},
		{"full ring merges", seqLens(17, 10), 0, 5, 0, 0, append([]uint32{15}, seqLens(16, 10)...)},
		{"full ring append merges last", seqLens(17, 10), 170, 5, 0, 0, append(seqLens(16, 10), 15)},
		{"test_sockmap 4096+4096", []uint32{32768, 32768}, 4096, 4096, 0, 0, []uint32{4096, 4096, 28672, 32768}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, all := buildMsg(t, tt.lens...)
			defer m.release()
			ret := m.Push(tt.start, tt.len, tt.flags)
			require.Equal(t, tt.ret, ret)
			require.Equal(t, tt.after, elemLens(m))
			want := all
			if ret == 0 && tt.len > 0 {
				want = append(append(append([]byte{}, all[:tt.start]...), make([]byte, tt.len)...), all[tt.start:]...)
			}
			require.Equal(t, want, m.Bytes(nil))
			require.Equal(t, uint32(len(want)), m.Size())
			require.Equal(t, 0, m.dataElem)
			require.Equal(t, int(m.sg[0].length), len(m.Data()))
		})
	}
}

func TestMsgPop(t *testing.T) {
	tests := []struct {
		name       string
		lens       []uint32
		start, len uint32
		flags      uint64
		ret        int64
		after      []uint32
	}{
		{"flags", []uint32{10}, 0, 1, 1, -int64(errno.EINVAL), []uint32{10}},
		{"len 0 no-op", []uint32{10}, 0, 0, 0, 0, []uint32{10}},
		{"start>=size", []uint32{10}, 10, 1, 0, -int64(errno.EINVAL), []uint32{10}},
		{"past end", []uint32{10}, 5, 6, 0, -int64(errno.EINVAL), []uint32{10}},
		{"front of element", []uint32{10}, 0, 4, 0, 0, []uint32{6}},
		{"whole element", []uint32{10, 10}, 0, 10, 0, 0, []uint32{10}},
		{"inside splits", []uint32{10}, 2, 3, 0, 0, []uint32{2, 5}},
		{"tail of element", []uint32{10, 10}, 5, 5, 0, 0, []uint32{5, 10}},
		{"across elements", []uint32{10, 10, 10}, 5, 10, 0, 0, []uint32{5, 5, 10}},
		{"across whole middle", []uint32{10, 10, 10}, 5, 20, 0, 0, []uint32{5, 5}},
		{"full ring compacts", seqLens(17, 10), 12, 3, 0, 0, append([]uint32{10, 7}, seqLens(15, 10)...)},
		{"test_sockmap 1,2", []uint32{1024}, 1, 2, 0, 0, []uint32{1, 1021}},
		{"test_sockmap 4096,4096", []uint32{32768, 32768}, 4096, 4096, 0, 0, []uint32{4096, 24576, 32768}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, all := buildMsg(t, tt.lens...)
			defer m.release()
			ret := m.Pop(tt.start, tt.len, tt.flags)
			require.Equal(t, tt.ret, ret)
			require.Equal(t, tt.after, elemLens(m))
			want := all
			if ret == 0 && tt.len > 0 {
				want = append(append([]byte{}, all[:tt.start]...), all[tt.start+tt.len:]...)
			}
			require.Equal(t, want, m.Bytes(nil))
			require.Equal(t, uint32(len(want)), m.Size())
		})
	}
}

func TestMsgXferAndConsume(t *testing.T) {
	m, all := buildMsg(t, 10, 10, 10)
	defer m.release()
	out := m.xfer(15)
	require.Equal(t, []uint32{10, 5}, elemLens(out))
	require.Equal(t, all[:15], out.Bytes(nil))
	require.Equal(t, []uint32{5, 10}, elemLens(m))
	require.Equal(t, all[15:], m.Bytes(nil))
	out.release()
	m.consume(7)
	require.Equal(t, all[22:], m.Bytes(nil))
	require.Equal(t, []uint32{8}, elemLens(m))
}
