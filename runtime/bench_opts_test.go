package runtime_test

import "github.com/skmsg/skmsg/netstack"

// netstackBenchOptions: a loopback-sized MTU and no checksums, as the
// kernel's loopback device does.
var netstackBenchOptions = netstack.Options{MTU: 65535, ChecksumOffload: true}
