package bpf

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"syscall"

	"github.com/skmsg/skmsg/internal/errno"
)

// lpmTrie is BPF_MAP_TYPE_LPM_TRIE, the kernel's algorithm
// (kernel/bpf/lpm_trie.c) so that lookups and get_next_key order match: a
// binary trie with intermediate nodes, keys struct { u32 prefixlen; u8
// data[] } with data in network order, iteration in postorder (more
// specific prefixes first).
type lpmTrie struct {
	*base
	mu        sync.RWMutex
	root      *lpmNode
	n         uint32
	dataSize  uint32
	maxPrefix uint32
}

type lpmNode struct {
	child     [2]*lpmNode
	prefixlen uint32
	im        bool // intermediate: no value
	data      []byte
	value     []byte
}

func newLPM(b *base) *lpmTrie {
	t := &lpmTrie{base: b, dataSize: b.spec.KeySize - 4}
	t.maxPrefix = 8 * t.dataSize
	b.init(t)
	return t
}

func extractBit(data []byte, i uint32) int {
	return int(data[i/8]>>(7-i%8)) & 1
}

func (t *lpmTrie) match(n *lpmNode, prefixlen uint32, data []byte) uint32 {
	limit := min(n.prefixlen, prefixlen)
	var m uint32
	for i := uint32(0); m < limit && i < t.dataSize; i++ {
		if d := n.data[i] ^ data[i]; d != 0 {
			m += uint32(bits.LeadingZeros8(d))
			break
		}
		m += 8
	}
	return min(m, limit)
}

func splitKey(key []byte) (uint32, []byte) {
	return binary.NativeEndian.Uint32(key), key[4:]
}

func (t *lpmTrie) lookup(key []byte) []byte {
	plen, data := splitKey(key)
	if plen > t.maxPrefix {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	var found *lpmNode
	for n := t.root; n != nil; {
		m := t.match(n, plen, data)
		if m == t.maxPrefix {
			found = n
			break
		}
		if m < n.prefixlen {
			break
		}
		if !n.im {
			found = n
		}
		n = n.child[extractBit(data, n.prefixlen)]
	}
	if found == nil {
		return nil
	}
	return found.value
}

func (t *lpmTrie) checkAdd(flags uint64) syscall.Errno {
	if flags == UpdateExist {
		return errno.ENOENT
	}
	if t.n == t.spec.MaxEntries {
		return errno.ENOSPC
	}
	t.n++
	return 0
}

func (t *lpmTrie) update(key, value []byte, flags uint64) syscall.Errno {
	if flags > UpdateExist {
		return errno.EINVAL
	}
	plen, data := splitKey(key)
	if plen > t.maxPrefix {
		return errno.EINVAL
	}
	nn := &lpmNode{prefixlen: plen, data: append([]byte(nil), data...), value: append([]byte(nil), value...)}
	t.mu.Lock()
	defer t.mu.Unlock()
	slot := &t.root
	var node *lpmNode
	var m uint32
	for node = *slot; node != nil; node = *slot {
		m = t.match(node, plen, data)
		if node.prefixlen != m || node.prefixlen == plen {
			break
		}
		slot = &node.child[extractBit(data, node.prefixlen)]
	}
	if node == nil {
		if e := t.checkAdd(flags); e != 0 {
			return e
		}
		*slot = nn
		return 0
	}
	if node.prefixlen == m {
		if !node.im {
			if flags == UpdateNoExist {
				return errno.EEXIST
			}
		} else if e := t.checkAdd(flags); e != 0 {
			return e
		}
		nn.child = node.child
		*slot = nn
		return 0
	}
	if e := t.checkAdd(flags); e != 0 {
		return e
	}
	if m == plen {
		nn.child[extractBit(node.data, m)] = node
		*slot = nn
		return 0
	}
	im := &lpmNode{prefixlen: m, im: true, data: node.data}
	if extractBit(data, m) == 1 {
		im.child = [2]*lpmNode{node, nn}
	} else {
		im.child = [2]*lpmNode{nn, node}
	}
	*slot = im
	return 0
}

func (t *lpmTrie) delete(key []byte) syscall.Errno {
	plen, data := splitKey(key)
	if plen > t.maxPrefix {
		return errno.EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	trim := &t.root
	trim2 := trim
	var parent, node *lpmNode
	var m uint32
	for node = *trim; node != nil; node = *trim {
		m = t.match(node, plen, data)
		if node.prefixlen != m || node.prefixlen == plen {
			break
		}
		parent = node
		trim2 = trim
		trim = &node.child[extractBit(data, node.prefixlen)]
	}
	if node == nil || node.prefixlen != plen || node.prefixlen != m || node.im {
		return errno.ENOENT
	}
	t.n--
	if node.child[0] != nil && node.child[1] != nil {
		// Two children: the node stays as an intermediate one. Copy it so
		// a program still holding its value keeps valid memory.
		c := *node
		c.im, c.value = true, nil
		*trim = &c
		return 0
	}
	if parent != nil && parent.im && node.child[0] == nil && node.child[1] == nil {
		if node == parent.child[0] {
			*trim2 = parent.child[1]
		} else {
			*trim2 = parent.child[0]
		}
		return 0
	}
	switch {
	case node.child[0] != nil:
		*trim = node.child[0]
	case node.child[1] != nil:
		*trim = node.child[1]
	default:
		*trim = nil
	}
	return 0
}

func (t *lpmTrie) nextKey(key, next []byte) syscall.Errno {
	t.mu.RLock()
	defer t.mu.RUnlock()
	searchRoot := t.root
	if searchRoot == nil {
		return errno.ENOENT
	}
	var nextNode *lpmNode
	if key != nil {
		if plen, data := splitKey(key); plen <= t.maxPrefix {
			stack := make([]*lpmNode, 0, 8)
			var node *lpmNode
			var m uint32
			for node = searchRoot; node != nil; {
				stack = append(stack, node)
				m = t.match(node, plen, data)
				if node.prefixlen != m || node.prefixlen == plen {
					break
				}
				node = node.child[extractBit(data, node.prefixlen)]
			}
			if node != nil && node.prefixlen == m && !node.im {
				node = stack[len(stack)-1]
				sp := len(stack) - 1
				for sp > 0 {
					parent := stack[sp-1]
					if parent.child[0] == node && parent.child[1] != nil {
						searchRoot = parent.child[1]
						goto leftmost
					}
					if !parent.im {
						nextNode = parent
						goto copyOut
					}
					node = parent
					sp--
				}
				return errno.ENOENT
			}
		}
	}
leftmost:
	for node := searchRoot; node != nil; {
		if node.im {
			node = node.child[0]
		} else {
			nextNode = node
			node = node.child[0]
			if node == nil {
				node = nextNode.child[1]
			}
		}
	}
copyOut:
	binary.NativeEndian.PutUint32(next, nextNode.prefixlen)
	copy(next[4:], nextNode.data)
	return 0
}

func (t *lpmTrie) sysLookup(key []byte) ([]byte, syscall.Errno) {
	if v := t.lookup(key); v != nil {
		return v, 0
	}
	return nil, errno.ENOENT
}

func (t *lpmTrie) sysUpdate(key, value []byte, flags uint64) syscall.Errno {
	return t.update(key, value, flags)
}

func (t *lpmTrie) sysDelete(key []byte) syscall.Errno { return t.delete(key) }

func (t *lpmTrie) progLookup(key []byte, cpu int) ([]byte, syscall.Errno) { return t.sysLookup(key) }

func (t *lpmTrie) progUpdate(key, value []byte, flags uint64, cpu int) syscall.Errno {
	return t.update(key, value, flags)
}

func (t *lpmTrie) progDelete(key []byte) syscall.Errno { return t.delete(key) }
