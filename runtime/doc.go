// Package runtime is the kernel side of skmsg: sockmap and sockhash, the
// per-socket state (psock) with its program slots, the generic sk_msg
// scatterlist with apply/cork/pull/push/pop, the program contexts, the
// helpers of each program type, and the TCP hooks of the send and receive
// paths, over a user-space network.
package runtime
