package runtime

// Socket is a TCP socket of the virtual network.
type Socket struct{}
