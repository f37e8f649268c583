package loader_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
)

func legacyTail(words ...uint32) *bytes.Reader {
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return bytes.NewReader(b)
}

func prog(name string, insns ...asm.Instruction) *ebpf.ProgramSpec {
	insns[0] = insns[0].WithSymbol(name)
	return &ebpf.ProgramSpec{Name: name, Type: ebpf.SkMsg, AttachType: ebpf.AttachSkMsgVerdict, SectionName: "sk_msg",
		License: "GPL", Instructions: insns, ByteOrder: binary.LittleEndian}
}

// TestFromSyntheticSpec covers map layouts and instruction forms that the
// C test objects do not produce.
func TestFromSyntheticSpec(t *testing.T) {
	ret := []asm.Instruction{asm.Mov.Imm(asm.R0, 1), asm.Return()}
	tests := []struct {
		name    string
		maps    map[string]*ebpf.MapSpec
		progs   []*ebpf.ProgramSpec
		check   func(t *testing.T, o *loader.Object)
		wantErr string
		notSupp bool
		// perProg: the object opens and program p carries the error.
		perProg bool
	}{
		{
			name: "iproute2 28-byte bpf_elf_map",
			maps: map[string]*ebpf.MapSpec{"m": {Name: "m", Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 8, Extra: legacyTail(7, 2)}},
			check: func(t *testing.T, o *loader.Object) {
				assert.Equal(t, loader.LegacyMapDef{Size: 28, ID: 7, Pinning: 2}, *o.Maps["m"].Legacy)
				assert.Equal(t, ebpf.PinByName, o.Maps["m"].Pinning)
			},
		},
		{
			name:    "legacy definition of unknown layout",
			maps:    map[string]*ebpf.MapSpec{"m": {Name: "m", Type: ebpf.Hash, Extra: legacyTail(0, 0, 0, 0, 0, 9)}},
			wantErr: "map m: legacy map definition of 44 bytes",
			notSupp: true,
		},
		{
			name:    "legacy inner id naming no map",
			maps:    map[string]*ebpf.MapSpec{"outer": {Name: "outer", Type: ebpf.ArrayOfMaps, MaxEntries: 1, Extra: legacyTail(0, 0, 5, 0)}},
			wantErr: "legacy map outer: inner_id 5 names no map",
		},
		{
			name: "reference to an undeclared map",
			progs: []*ebpf.ProgramSpec{prog("p",
				asm.LoadMapPtr(asm.R1, 0).WithReference("ghost"), asm.Mov.Imm(asm.R0, 1), asm.Return())},
			wantErr: `instruction 0 (LoadMapPtr dst: r1 fd: 0 <ghost>): references map "ghost", which the object does not declare`,
		},
		{
			name: "kconfig extern",
			maps: map[string]*ebpf.MapSpec{".kconfig": {Name: ".kconfig", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1}},
			progs: []*ebpf.ProgramSpec{prog("p",
				asm.LoadMapValue(asm.R1, 0, 0).WithReference(".kconfig"), asm.Mov.Imm(asm.R0, 1), asm.Return())},
			wantErr: "extern variable in .kconfig",
			notSupp: true,
			perProg: true,
		},
		{
			name: "kfunc call",
			progs: []*ebpf.ProgramSpec{prog("p",
				asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Src: asm.PseudoKfuncCall, Constant: -1}.WithReference("bpf_obj_new_impl"),
				asm.Return())},
			wantErr: "kfunc call bpf_obj_new_impl",
			notSupp: true,
			perProg: true,
		},
		{
			name:    "call to a function that is not linked",
			progs:   []*ebpf.ProgramSpec{prog("p", asm.Call.Label("elsewhere"), asm.Return())},
			wantErr: `call to "elsewhere", which is not defined in the object`,
			notSupp: true,
			perProg: true,
		},
		{
			name: "direct value access to a non-data map",
			maps: map[string]*ebpf.MapSpec{"arr": {Name: "arr", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}},
			progs: []*ebpf.ProgramSpec{prog("p",
				asm.LoadMapValue(asm.R1, 0, 0).WithReference("arr"), asm.Mov.Imm(asm.R0, 1), asm.Return())},
			wantErr: "direct value access to map arr",
			notSupp: true,
			perProg: true,
		},
		{
			name: "prog array naming a missing program",
			maps: map[string]*ebpf.MapSpec{"jt": {Name: "jt", Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 2,
				Contents: []ebpf.MapKV{{Key: uint32(0), Value: "missing"}}}},
			progs:   []*ebpf.ProgramSpec{prog("p", ret...)},
			wantErr: `map jt: initial entry 0 names program "missing"`,
		},
		{
			name:    "program without type",
			progs:   []*ebpf.ProgramSpec{{Name: "p", SectionName: "weird", Instructions: asm.Instructions{asm.Return().WithSymbol("p")}}},
			wantErr: `section "weird", program p: program type unknown`,
			notSupp: true,
		},
		{
			name:    "program without instructions",
			progs:   []*ebpf.ProgramSpec{{Name: "p", Type: ebpf.SkMsg, SectionName: "sk_msg"}},
			wantErr: "program p: no instructions",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &ebpf.CollectionSpec{Maps: tt.maps, Programs: map[string]*ebpf.ProgramSpec{}, ByteOrder: binary.LittleEndian}
			if spec.Maps == nil {
				spec.Maps = map[string]*ebpf.MapSpec{}
			}
			for _, p := range tt.progs {
				spec.Programs[p.Name] = p
			}
			obj, err := loader.FromSpec(spec)
			if tt.perProg {
				// Only program p is unusable; the object opens.
				require.NoError(t, err)
				err = obj.Programs["p"].Unsupported
			}
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Equal(t, tt.notSupp, isNotSupported(err))
				return
			}
			require.NoError(t, err)
			tt.check(t, obj)
		})
	}
}

func isNotSupported(err error) bool { return errors.Is(err, loader.ErrNotSupported) }

// TestObjectWithoutBTF loads an iproute2-style object built without -g
// (emulated by renaming its .BTF and .BTF.ext sections): legacy maps and
// programs still load, without line info.
func TestObjectWithoutBTF(t *testing.T) {
	data, err := os.ReadFile(testobj.Path("loader", "iproute2.o"))
	require.NoError(t, err)
	// The section name table holds ".rel.BTF" and ".rel.BTF.ext"; ".BTF"
	// and ".BTF.ext" are suffixes of them.
	require.Equal(t, 2, bytes.Count(data, []byte(".rel.BTF")), "expected .BTF and .BTF.ext section names")
	data = bytes.ReplaceAll(data, []byte(".rel.BTF"), []byte(".rel.XTF"))

	obj, err := loader.FromReader(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Nil(t, obj.BTF)
	p := obj.Programs["verdict"]
	require.NotNil(t, p)
	assert.Nil(t, p.Instructions[0].Source())
	assert.Equal(t, []string{"counters", "outer", "perf_events", "sock_map"}, p.Maps)
	assert.Equal(t, uint32(42), obj.Maps["inner"].Legacy.ID)
	assert.NotNil(t, obj.Maps["outer"].InnerMap)
}
