package loader_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

// BenchmarkOpen measures loading an object (parse, types, CO-RE, checks)
// against the baseline of cilium/ebpf's parse alone.
func BenchmarkOpen(b *testing.B) {
	for _, name := range []string{"maps.o", "core.o"} {
		data, err := os.ReadFile(testobj.Path("loader", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/cilium-parse", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/loader", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := loader.FromReader(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
