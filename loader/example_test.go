package loader_test

import (
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

// Open an object, set a `const volatile` before loading, and find the map
// and global data references of a program.
func ExampleOpen() {
	obj, err := loader.Open(testobj.Path("loader", "globals.o"))
	if err != nil {
		panic(err)
	}
	if err := obj.SetConstant("redirect_key", uint32(3)); err != nil {
		panic(err)
	}
	p := obj.Programs["msg_globals"]
	fmt.Println(p.Section, p.Type, p.AttachType, p.Functions)
	for _, ins := range p.Instructions {
		switch {
		case ins.IsLoadFromMap() && ins.Src == asm.PseudoMapFD:
			fmt.Printf("map %s\n", ins.Reference())
		case ins.IsLoadFromMap() && ins.Src == asm.PseudoMapValue:
			fmt.Printf("global data %s+%d\n", ins.Reference(), uint64(ins.Constant)>>32)
		}
	}
	fmt.Println(obj.Maps[".rodata"].Data()[:4])
	// Output:
	// sk_msg SkMsg SkMsgVerdict [add_bytes should_log]
	// global data .bss+0
	// global data .rodata+0
	// global data .rodata+4
	// global data .rodata.banner+0
	// map jump_table
	// map sock_hash
	// global data .data+0
	// global data .data.tags+0
	// global data .rodata+17
	// [3 0 0 0]
}
