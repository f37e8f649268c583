package loader_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

// expectedFailures are the test objects that exist to be rejected, with
// the reason the error must give.
var expectedFailures = map[string]string{
	"unknown_section.o": `section "my_verdict", program custom_verdict: program type unknown`,
}

func open(t *testing.T, elem ...string) *loader.Object {
	t.Helper()
	obj, err := loader.Open(testobj.Path(elem...))
	require.NoError(t, err)
	return obj
}

// TestAllObjects loads every committed object and checks the invariants the
// runtime relies on.
func TestAllObjects(t *testing.T) {
	objs, err := testobj.Objects()
	require.NoError(t, err)
	require.NotEmpty(t, objs)
	for _, path := range objs {
		rel, _ := filepath.Rel(testobj.Path(), path)
		t.Run(rel, func(t *testing.T) {
			obj, err := loader.Open(path)
			if reason, ok := expectedFailures[filepath.Base(path)]; ok {
				require.Error(t, err)
				assert.ErrorIs(t, err, loader.ErrNotSupported)
				assert.Contains(t, err.Error(), reason)
				return
			}
			require.NoError(t, err)
			require.Len(t, obj.ProgramList, len(obj.Programs))
			require.Len(t, obj.MapList, len(obj.Maps))
			for _, p := range obj.ProgramList {
				assert.NotEqual(t, ebpf.UnspecifiedProgram, p.Type, p.Name)
				require.NotEmpty(t, p.Instructions, p.Name)
				assert.Equal(t, p.Name, p.Instructions[0].Symbol(), "stream starts at the entry function")
				assert.NotNil(t, p.Instructions[0].Source(), "%s: BTF line info lost", p.Name)
				for _, m := range p.Maps {
					assert.Contains(t, obj.Maps, m, "%s references an undeclared map", p.Name)
				}
				for _, ins := range p.Instructions {
					if ins.IsLoadFromMap() {
						assert.Contains(t, p.Maps, ins.Reference())
					}
					if p.Unsupported == nil {
						assert.NotEqual(t, int64(btf.COREBadRelocationSentinel), ins.Constant, "poisoned instruction left in %s", p.Name)
					}
				}
			}
		})
	}
}

func TestProgramTypes(t *testing.T) {
	tests := []struct {
		obj, prog, section string
		typ                ebpf.ProgramType
		attach             ebpf.AttachType
		legacy             bool
	}{
		{"maps.o", "msg_all_maps", "sk_msg", ebpf.SkMsg, ebpf.AttachSkMsgVerdict, false},
		{"maps.o", "skb_parser", "sk_skb/stream_parser", ebpf.SkSKB, ebpf.AttachSkSKBStreamParser, false},
		{"maps.o", "skb_verdict", "sk_skb/stream_verdict", ebpf.SkSKB, ebpf.AttachSkSKBStreamVerdict, false},
		{"maps.o", "skb_verdict_only", "sk_skb/verdict", ebpf.SkSKB, ebpf.AttachSkSKBVerdict, false},
		{"maps.o", "skb_untyped", "sk_skb", ebpf.SkSKB, ebpf.AttachNone, false},
		{"maps.o", "sockops_insert", "sockops", ebpf.SockOps, ebpf.AttachCGroupSockOps, false},
		{"mixed.o", "mixed_msg", "sk_msg", ebpf.SkMsg, ebpf.AttachSkMsgVerdict, false},
		{"mixed.o", "mixed_socket", "socket", ebpf.SocketFilter, ebpf.AttachNone, false},
		{"mixed.o", "mixed_tc", "tc", ebpf.SchedCLS, ebpf.AttachNone, false},
		{"mixed.o", "mixed_xdp", "xdp", ebpf.XDP, ebpf.AttachXDP, false},
		{"mixed.o", "mixed_cgroup_skb", "cgroup_skb/ingress", ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress, false},
		{"mixed.o", "mixed_kprobe", "kprobe/tcp_sendmsg", ebpf.Kprobe, ebpf.AttachNone, false},
		{"mixed.o", "mixed_tracepoint", "tracepoint/sock/inet_sock_set_state", ebpf.TracePoint, ebpf.AttachNone, false},
		{"legacy_sections.o", "bpf_prog1", "sk_skb1", ebpf.SkSKB, ebpf.AttachNone, true},
		{"legacy_sections.o", "bpf_prog2", "sk_skb2", ebpf.SkSKB, ebpf.AttachNone, true},
		{"legacy_sections.o", "bpf_prog3", "sk_msg1", ebpf.SkMsg, ebpf.AttachSkMsgVerdict, true},
		{"legacy_sections.o", "bpf_sockmap", "sockops_insert", ebpf.SockOps, ebpf.AttachCGroupSockOps, true},
	}
	for _, tt := range tests {
		t.Run(tt.obj+"/"+tt.prog, func(t *testing.T) {
			p, err := open(t, "loader", tt.obj).Program(tt.prog)
			require.NoError(t, err)
			assert.Equal(t, tt.section, p.Section)
			assert.Equal(t, tt.typ, p.Type)
			assert.Equal(t, tt.attach, p.AttachType)
			assert.Equal(t, tt.legacy, p.LegacySection)
			assert.False(t, p.Overridden)
			assert.Equal(t, "GPL", p.License)
		})
	}
}

func TestAttachTo(t *testing.T) {
	obj := open(t, "loader", "mixed.o")
	assert.Equal(t, "tcp_sendmsg", obj.Programs["mixed_kprobe"].AttachTo)
	assert.Equal(t, "sock/inet_sock_set_state", obj.Programs["mixed_tracepoint"].AttachTo)
	assert.Equal(t, "", obj.Programs["mixed_msg"].AttachTo)
}

func TestProgramTypeOverride(t *testing.T) {
	tests := []struct {
		name    string
		obj     string
		opts    []loader.Option
		prog    string
		typ     ebpf.ProgramType
		attach  ebpf.AttachType
		wantErr string
	}{
		{"by program name", "unknown_section.o",
			[]loader.Option{loader.WithProgramType("custom_verdict", ebpf.SkMsg, ebpf.AttachSkMsgVerdict)},
			"custom_verdict", ebpf.SkMsg, ebpf.AttachSkMsgVerdict, ""},
		{"by section name", "unknown_section.o",
			[]loader.Option{loader.WithProgramType("my_verdict", ebpf.SkMsg, ebpf.AttachSkMsgVerdict)},
			"custom_verdict", ebpf.SkMsg, ebpf.AttachSkMsgVerdict, ""},
		{"legacy verdict made explicit", "legacy_sections.o",
			[]loader.Option{loader.WithProgramType("sk_skb2", ebpf.SkSKB, ebpf.AttachSkSKBStreamVerdict)},
			"bpf_prog2", ebpf.SkSKB, ebpf.AttachSkSKBStreamVerdict, ""},
		{"program name wins over section", "legacy_sections.o",
			[]loader.Option{
				loader.WithProgramType("sk_skb1", ebpf.SkSKB, ebpf.AttachSkSKBStreamVerdict),
				loader.WithProgramType("bpf_prog1", ebpf.SkSKB, ebpf.AttachSkSKBStreamParser),
			},
			"bpf_prog1", ebpf.SkSKB, ebpf.AttachSkSKBStreamParser, ""},
		{"override matching nothing", "maps.o",
			[]loader.Option{loader.WithProgramType("no_such_prog", ebpf.SkMsg, ebpf.AttachSkMsgVerdict)},
			"", 0, 0, `override "no_such_prog": no program or section`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := loader.Open(testobj.Path("loader", tt.obj), tt.opts...)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			p, err := obj.Program(tt.prog)
			require.NoError(t, err)
			assert.Equal(t, tt.typ, p.Type)
			assert.Equal(t, tt.attach, p.AttachType)
			assert.True(t, p.Overridden)
			assert.Equal(t, tt.typ, p.Spec.Type)
		})
	}
}

func TestMaps(t *testing.T) {
	obj := open(t, "loader", "maps.o")
	tests := []struct {
		name            string
		typ             ebpf.MapType
		key, value, max uint32
		flags           uint32
	}{
		{"counters", ebpf.Array, 4, 8, 4, 0},
		{"percpu_counters", ebpf.PerCPUArray, 4, 8, 1, 0},
		{"hash_map", ebpf.Hash, 4, 4, 128, 0},
		{"percpu_hash", ebpf.PerCPUHash, 4, 8, 128, 0},
		{"lru_hash", ebpf.LRUHash, 4, 8, 64, 0},
		{"lru_percpu_hash", ebpf.LRUCPUHash, 4, 8, 64, 0},
		{"lpm", ebpf.LPMTrie, 8, 4, 16, 1 /* BPF_F_NO_PREALLOC */},
		{"array_of_maps", ebpf.ArrayOfMaps, 4, 4, 2, 0},
		{"hash_of_maps", ebpf.HashOfMaps, 4, 4, 8, 0},
		{"events", ebpf.RingBuf, 0, 0, 4096, 0},
		{"perf_events", ebpf.PerfEventArray, 4, 4, 0, 0},
		{"sk_store", ebpf.SkStorage, 4, 8, 0, 1},
		{"queue", ebpf.Queue, 0, 4, 8, 0},
		{"stack", ebpf.Stack, 0, 4, 8, 0},
		{"sock_map", ebpf.SockMap, 4, 8, 2, 0},
		{"sock_hash", ebpf.SockHash, 4, 8, 16, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := obj.Maps[tt.name]
			require.NotNil(t, m)
			assert.Equal(t, tt.name, m.Name)
			assert.Equal(t, tt.typ, m.Type)
			assert.Equal(t, tt.key, m.KeySize)
			assert.Equal(t, tt.value, m.ValueSize)
			assert.Equal(t, tt.max, m.MaxEntries)
			assert.Equal(t, tt.flags, m.Flags)
			assert.Equal(t, tt.typ == ebpf.PerfEventArray, m.OnePerCPU)
			assert.Nil(t, m.Legacy)
			assert.False(t, m.GlobalData)
			if tt.key > 0 && tt.typ != ebpf.PerfEventArray { // declared with key_size, no __type
				assert.NotNil(t, m.Key, "BTF key type")
			}
		})
	}

	aom := obj.Maps["array_of_maps"]
	require.NotNil(t, aom.InnerMap)
	assert.Equal(t, ebpf.Array, aom.InnerMap.Type)
	assert.Equal(t, uint32(2), aom.InnerMap.MaxEntries)
	assert.ElementsMatch(t, []ebpf.MapKV{{Key: uint32(0), Value: "inner_a"}, {Key: uint32(1), Value: "inner_b"}}, aom.Contents)
	hom := obj.Maps["hash_of_maps"]
	require.NotNil(t, hom.InnerMap)
	assert.Equal(t, ebpf.Hash, hom.InnerMap.Type)
	assert.Equal(t, uint32(8), hom.InnerMap.ValueSize)

	p := obj.Programs["msg_all_maps"]
	assert.Equal(t, []string{"array_of_maps", "counters", "events", "hash_map", "hash_of_maps", "lpm", "lru_hash",
		"lru_percpu_hash", "percpu_counters", "percpu_hash", "queue", "sk_store", "sock_hash", "stack"}, p.Maps)
	assert.Equal(t, []string{"perf_events", "sock_map"}, obj.Programs["skb_verdict"].Maps)
}

// TestMapReferences checks how a map reference looks in the stream: an
// LD_IMM64 with PseudoMapFD naming the map, right before the helper call.
func TestMapReferences(t *testing.T) {
	p := open(t, "loader", "maps.o").Programs["skb_verdict"]
	var refs []string
	for i, ins := range p.Instructions {
		if ins.IsLoadFromMap() {
			assert.Equal(t, asm.PseudoMapFD, ins.Src)
			assert.Equal(t, asm.R2, ins.Dst)
			refs = append(refs, ins.Reference())
			// The next call takes the map in r2.
			for _, next := range p.Instructions[i+1:] {
				if next.IsBuiltinCall() {
					assert.Contains(t, []asm.BuiltinFunc{asm.FnPerfEventOutput, asm.FnSkRedirectMap}, asm.BuiltinFunc(next.Constant))
					break
				}
			}
		}
	}
	assert.Equal(t, []string{"perf_events", "sock_map"}, refs)
}

func TestLegacyIproute2Maps(t *testing.T) {
	obj := open(t, "loader", "iproute2.o")
	tests := []struct {
		name    string
		typ     ebpf.MapType
		max     uint32
		pinning ebpf.PinType
		legacy  loader.LegacyMapDef
	}{
		{"sock_map", ebpf.SockMap, 20, ebpf.PinByName, loader.LegacyMapDef{Size: 36, Pinning: 2}},
		{"counters", ebpf.Array, 2, ebpf.PinByName, loader.LegacyMapDef{Size: 36, ID: 1, Pinning: 1}},
		{"inner", ebpf.Array, 1, ebpf.PinNone, loader.LegacyMapDef{Size: 36, ID: 42}},
		{"outer", ebpf.ArrayOfMaps, 1, ebpf.PinNone, loader.LegacyMapDef{Size: 36, InnerID: 42}},
		{"perf_events", ebpf.PerfEventArray, 0, ebpf.PinNone, loader.LegacyMapDef{Size: 36}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := obj.Maps[tt.name]
			require.NotNil(t, m)
			assert.Equal(t, tt.typ, m.Type)
			assert.Equal(t, uint32(4), m.KeySize)
			assert.Equal(t, tt.max, m.MaxEntries)
			assert.Equal(t, tt.pinning, m.Pinning)
			require.NotNil(t, m.Legacy)
			assert.Equal(t, tt.legacy, *m.Legacy)
		})
	}
	outer := obj.Maps["outer"]
	require.NotNil(t, outer.InnerMap)
	assert.Equal(t, ebpf.Array, outer.InnerMap.Type)
	assert.Equal(t, uint32(4), outer.InnerMap.ValueSize)
	assert.Equal(t, []ebpf.MapKV{{Key: uint32(0), Value: "inner"}}, outer.Contents)
	assert.True(t, obj.Maps["perf_events"].OnePerCPU)
	assert.Equal(t, []string{"counters", "outer", "perf_events", "sock_map"}, obj.Programs["verdict"].Maps)
}

func TestGlobalData(t *testing.T) {
	obj := open(t, "loader", "globals.o")
	tests := []struct {
		section  string
		readOnly bool
		vars     []string
	}{
		{".rodata", true, []string{"redirect_key", "verbose"}},
		{".rodata.banner", true, []string{"banner"}},
		{".data", false, []string{"bytes_seen"}},
		{".data.tags", false, []string{"tag"}},
		{".bss", false, []string{"msgs_seen"}},
	}
	p := obj.Programs["msg_globals"]
	// Offsets each section is addressed at by the program.
	offsets := map[string][]uint32{}
	for _, ins := range p.Instructions {
		if ins.OpCode.IsDWordLoad() && ins.Src == asm.PseudoMapValue {
			assert.Zero(t, uint32(ins.Constant), "low half of the constant")
			offsets[ins.Reference()] = append(offsets[ins.Reference()], uint32(uint64(ins.Constant)>>32))
		}
	}
	for _, tt := range tests {
		t.Run(tt.section, func(t *testing.T) {
			m := obj.Maps[tt.section]
			require.NotNil(t, m)
			assert.True(t, m.GlobalData)
			assert.Equal(t, tt.readOnly, m.ReadOnly)
			assert.Equal(t, ebpf.Array, m.Type)
			assert.Equal(t, uint32(1), m.MaxEntries)
			assert.Len(t, m.Data(), int(m.ValueSize))
			assert.Contains(t, p.Maps, tt.section)
			for _, name := range tt.vars {
				v := obj.Variables[name]
				require.NotNil(t, v, name)
				assert.Equal(t, tt.section, v.Section)
				assert.Equal(t, tt.readOnly, v.ReadOnly)
				if name != "verbose" { // read through a subprogram's own load
					assert.Contains(t, offsets[tt.section], v.Offset, "program addresses %s at its offset", name)
				}
			}
		})
	}
	le := binary.LittleEndian
	assert.Equal(t, uint32(7), le.Uint32(obj.Maps[".rodata"].Data()[obj.Variables["redirect_key"].Offset:]))
	assert.Equal(t, uint64(100), le.Uint64(obj.Maps[".data"].Data()))
	assert.Equal(t, uint32(0xabcd), le.Uint32(obj.Maps[".data.tags"].Data()))
	assert.Equal(t, "skmsg\x00", string(obj.Maps[".rodata.banner"].Data()))
	assert.Equal(t, uint32(0x80) /* BPF_F_RDONLY_PROG */, obj.Maps[".rodata"].Flags)

	// Subprograms are linked after the entry function and called by name.
	assert.Equal(t, []string{"add_bytes", "should_log"}, sortedCopy(p.Functions))
	var calls []string
	for _, ins := range p.Instructions {
		if ins.IsFunctionCall() {
			assert.Equal(t, int64(-1), ins.Constant)
			calls = append(calls, ins.Reference())
		}
	}
	assert.Subset(t, calls, []string{"add_bytes", "should_log"})

	// A callback passed by address is a symbolic function pointer.
	loop := obj.Programs["msg_loop"]
	require.NotNil(t, loop)
	assert.Equal(t, []string{"sum_cb"}, loop.Functions)
	var ptrs []string
	for _, ins := range loop.Instructions {
		if ins.IsLoadOfFunctionPointer() {
			assert.Equal(t, int64(-1), ins.Constant)
			ptrs = append(ptrs, ins.Reference())
		}
	}
	assert.Equal(t, []string{"sum_cb"}, ptrs)

	// The prog array names its initial program.
	assert.Equal(t, []ebpf.MapKV{{Key: uint32(1), Value: "tail_pass"}}, obj.Maps["jump_table"].Contents)
}

func TestSetConstant(t *testing.T) {
	tests := []struct {
		name    string
		set     func(o *loader.Object) error
		section string
		off     string
		want    []byte
		wantErr string
	}{
		{"u32 constant", func(o *loader.Object) error { return o.SetConstant("redirect_key", uint32(0x11223344)) },
			".rodata", "redirect_key", []byte{0x44, 0x33, 0x22, 0x11}, ""},
		{"u8 constant", func(o *loader.Object) error { return o.SetConstant("verbose", uint8(1)) },
			".rodata", "verbose", []byte{1}, ""},
		{"variable in .data", func(o *loader.Object) error { return o.SetVariable("bytes_seen", uint64(5)) },
			".data", "bytes_seen", []byte{5, 0, 0, 0, 0, 0, 0, 0}, ""},
		{"variable in .bss", func(o *loader.Object) error { return o.SetVariable("msgs_seen", uint64(9)) },
			".bss", "msgs_seen", []byte{9, 0, 0, 0, 0, 0, 0, 0}, ""},
		{"constant API on .data", func(o *loader.Object) error { return o.SetConstant("bytes_seen", uint64(5)) },
			"", "", nil, "not a constant"},
		{"wrong size", func(o *loader.Object) error { return o.SetConstant("redirect_key", uint64(1)) },
			"", "", nil, "redirect_key"},
		{"unknown variable", func(o *loader.Object) error { return o.SetConstant("nope", uint32(1)) },
			"", "", nil, `no global variable "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := open(t, "loader", "globals.o")
			err := tt.set(obj)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			v := obj.Variables[tt.off]
			got := obj.Maps[tt.section].Data()[v.Offset : v.Offset+v.Size]
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestCORE checks that context accesses compiled against vmlinux.h (and a
// flavor with deliberately wrong offsets) land on the 6.18 UAPI offsets of
// the context structs.
func TestCORE(t *testing.T) {
	obj := open(t, "loader", "core.o")
	ctxLoads := func(p *loader.ProgramSpec) []int16 {
		var offs []int16
		for _, ins := range p.Instructions {
			if ins.OpCode.Class() == asm.LdXClass && ins.Src == asm.R1 {
				offs = append(offs, ins.Offset)
			}
		}
		return offs
	}
	tests := []struct {
		prog string
		want []int16
	}{
		// remote_port 60, local_port 64 (flavor says 4), size 68 (flavor says 0), family 16.
		{"core_msg", []int16{60, 64, 68, 16}},
		{"core_skb", []int16{0}},
		// bpf_sock_ops: remote_port 64, op 0, skb_hwtstamp 216 (a field the
		// installed UAPI header may lack), op 0.
		{"core_sockops", []int16{64, 0, 216, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.prog, func(t *testing.T) {
			assert.Equal(t, tt.want, ctxLoads(obj.Programs[tt.prog]))
		})
	}
	// The local object still has the flavor's offsets: relocation did it.
	spec, err := ebpf.LoadCollectionSpec(testobj.Path("loader", "core.o"))
	require.NoError(t, err)
	var local []int16
	for _, ins := range spec.Programs["core_msg"].Instructions {
		if ins.OpCode.Class() == asm.LdXClass && ins.Src == asm.R1 {
			local = append(local, ins.Offset)
		}
	}
	assert.Equal(t, []int16{60, 4, 0, 16}, local)

	// field_exists(not_in_kernel) -> 0, type_exists(bpf_sock) -> 1,
	// field_size(skb->cb) -> 20: the constants at the relocated ALU
	// instructions of the original stream.
	consts := func(name string) []int64 {
		var out []int64
		for i, ins := range spec.Programs[name].Instructions {
			if btf.CORERelocationMetadata(&ins) != nil && ins.OpCode.Class().IsALU() {
				out = append(out, obj.Programs[name].Instructions[i].Constant)
			}
		}
		return out
	}
	assert.Equal(t, []int64{0, 1}, consts("core_msg"))
	assert.Equal(t, []int64{20}, consts("core_skb"))

	for _, p := range obj.ProgramList {
		assert.Positive(t, p.CORERelocations, p.Name)
		for _, ins := range p.Instructions {
			assert.Nil(t, btf.CORERelocationMetadata(&ins), "relocation left on an instruction of %s", p.Name)
		}
	}
}

// TestCOREUnresolvable: a reachable access no BTF can resolve makes that
// program unusable on skmsg, not the object.
func TestCOREUnresolvable(t *testing.T) {
	obj, err := loader.Open(testobj.Path("loader", "core_missing.o"))
	require.NoError(t, err)
	p := obj.Programs["msg_future"]
	require.NotNil(t, p)
	err = p.Unsupported
	require.ErrorIs(t, err, loader.ErrNotSupported)
	for _, want := range []string{"program msg_future", "instruction 0", "core_missing.c:16",
		"field sk_msg_md.tx_queue_hint (local type sk_msg_md___future) cannot be resolved"} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestCOREGuarded: an unresolvable access behind bpf_core_field_exists()
// is dead once the guard is relocated, so the object loads and the access
// becomes a no-op, in the entry function and in a subprogram.
func TestCOREGuarded(t *testing.T) {
	p := open(t, "loader", "core_guarded.o").Programs["msg_guarded"]
	require.NotNil(t, p)
	require.Len(t, p.DeadCORE, 2)
	slots := map[int]asm.Instruction{}
	iter := p.Instructions.Iterate()
	for iter.Next() {
		slots[int(iter.Offset)] = *iter.Ins
	}
	for _, d := range p.DeadCORE {
		assert.Contains(t, d.Reason, "field sk_msg_md.tx_queue_hint (local type sk_msg_md___future)")
		ins := slots[d.PC]
		assert.Equal(t, asm.Ja, ins.OpCode.JumpOp(), "pc %d: %v", d.PC, ins)
		assert.Equal(t, int16(0), ins.Offset)
		assert.NotNil(t, ins.Source(), "line info kept")
	}
	// The guarded read of size (offset 68 in sk_msg_md) is still there.
	var offs []int16
	for _, ins := range p.Instructions {
		if ins.OpCode.Class() == asm.LdXClass {
			offs = append(offs, ins.Offset)
		}
	}
	assert.Equal(t, []int16{68}, offs)
}

// TestCOREWithKernelBTF relocates against this machine's kernel BTF given
// as an extra target: the result must agree with the shipped context BTF.
func TestCOREWithKernelBTF(t *testing.T) {
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
	a := open(t, "loader", "core.o")
	b, err := loader.Open(testobj.Path("loader", "core.o"), loader.WithCORETargets(kernel))
	require.NoError(t, err)
	for name, p := range a.Programs {
		require.Equal(t, len(p.Instructions), len(b.Programs[name].Instructions))
		for i := range p.Instructions {
			assert.Equal(t, p.Instructions[i].Offset, b.Programs[name].Instructions[i].Offset)
		}
	}
}

func TestFromSpec(t *testing.T) {
	path := testobj.Path("loader", "core.o")
	spec, err := ebpf.LoadCollectionSpec(path)
	require.NoError(t, err)
	before := spec.Programs["core_msg"].Instructions[1]

	fromSpec, err := loader.FromSpec(spec)
	require.NoError(t, err)
	opened := open(t, "loader", "core.o")
	require.Equal(t, len(opened.Programs), len(fromSpec.Programs))
	for name, p := range opened.Programs {
		q := fromSpec.Programs[name]
		require.NotNil(t, q, name)
		assert.Equal(t, p.Type, q.Type)
		assert.Equal(t, p.Maps, q.Maps)
		assert.Equal(t, p.Instructions.String(), q.Instructions.String())
	}
	assert.Equal(t, before, spec.Programs["core_msg"].Instructions[1], "FromSpec must not modify the caller's spec")

	_, err = loader.FromSpec(nil)
	assert.Error(t, err)
}

func TestMalformed(t *testing.T) {
	good, err := os.ReadFile(testobj.Path("loader", "maps.o"))
	require.NoError(t, err)
	self, err := os.Executable()
	require.NoError(t, err)
	hostELF, err := os.ReadFile(self)
	require.NoError(t, err)
	flipped := bytes.Clone(good)
	for i := 64; i < len(flipped); i += 97 {
		flipped[i] ^= 0xff
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not an ELF object: the file is empty"},
		{"not ELF", []byte("hello, world, this is not an object file"), `not an ELF object: it starts with "hell"`},
		{"11-byte text", []byte("not an obj\n"), `not an ELF object: it starts with "not "`},
		{"magic only", []byte("\x7fELF"), "parse ELF: truncated object"},
		{"truncated header", good[:40], "parse ELF: truncated object"},
		{"truncated half", good[:len(good)/2], "parse ELF: "},
		{"bytes flipped", flipped, ""},
		{"host executable", hostELF, "unexpected machine type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loader.FromReader(bytes.NewReader(tt.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err = loader.Open(filepath.Join(t.TempDir(), "missing.o"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestProgramLookup(t *testing.T) {
	obj := open(t, "loader", "maps.o")
	_, err := obj.Program("nope")
	require.ErrorContains(t, err, `no program "nope"`)
	assert.ErrorContains(t, err, "msg_all_maps")
}

func FuzzOpen(f *testing.F) {
	objs, err := testobj.Objects()
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range objs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		obj, err := loader.FromReader(bytes.NewReader(data))
		runtime.ReadMemStats(&after)
		// No input makes the loader hold much more than its own size: an
		// ELF or BTF header claiming a huge section or count must be
		// refused, not allocated.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(64*len(data))+64<<20 {
			t.Fatalf("opening %d bytes allocated %d bytes", len(data), grew)
		}
		if err != nil {
			// The loader turns a panic of the ELF/BTF parser or of its own
			// code into an error; the fuzzer still reports it, as a bug.
			if strings.Contains(err.Error(), "panicked") {
				t.Fatal(err)
			}
			return
		}
		for _, p := range obj.ProgramList {
			if len(p.Instructions) == 0 {
				t.Fatalf("program %s without instructions", p.Name)
			}
			for _, m := range p.Maps {
				if obj.Maps[m] == nil {
					t.Fatalf("program %s references missing map %s", p.Name, m)
				}
			}
		}
	})
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
