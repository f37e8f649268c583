package runtime

import (
	"encoding/binary"
	"fmt"

	"github.com/skmsg/skmsg/vm"
)

// The map helpers on a sockmap or sockhash, as programs see them
// (maps.ProgramMap). A lookup yields a pointer to the socket's struct
// bpf_sock, or NULL; the verifier allows updates from none of the program
// types here and deletes only from sock_ops (SEMANTICS §5.3).

// ProgLookup is bpf_map_lookup_elem on a socket map: the socket as a
// read-only struct bpf_sock, or NULL.
func (m *SockMap) ProgLookup(mach *vm.Machine, key []byte) (uint64, error) {
	sk := m.lookupSock(key)
	if sk == nil {
		return 0, nil
	}
	b := sk.bpfSock
	binary.LittleEndian.PutUint32(b[bpfSockOffState:], uint32(sk.State()))
	return mach.AddRegion(vm.Region{Name: "bpf_sock(" + m.spec.Name + ")", Data: b[:], Perm: vm.PermRead}), nil
}

// ProgUpdate is bpf_map_update_elem on a socket map, which the verifier
// refuses for sk_msg, sk_skb and sock_ops programs ("cannot update sockmap
// in this context"); reaching it stops the program.
func (m *SockMap) ProgUpdate(mach *vm.Machine, key []byte, value, flags uint64) (uint64, error) {
	return 0, fmt.Errorf("map_update_elem on %s %s: cannot update sockmap in this context (use bpf_sock_map_update / bpf_sock_hash_update from sock_ops)", m.spec.Type, m.spec.Name)
}

// ProgDelete is bpf_map_delete_elem on a socket map (sock_ops only).
func (m *SockMap) ProgDelete(mach *vm.Machine, key []byte) (uint64, error) {
	if st, ok := mach.User.(*runState); ok && st.msg != nil {
		return 0, fmt.Errorf("map_delete_elem on %s %s: cannot update sockmap in this context", m.spec.Type, m.spec.Name)
	}
	if e := m.deleteKey(key); e != 0 {
		return negErrno(e), nil
	}
	return 0, nil
}
