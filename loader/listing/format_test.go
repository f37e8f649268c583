package listing_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skmsg/skmsg/internal/testobj"
	"github.com/skmsg/skmsg/loader"
	"github.com/skmsg/skmsg/loader/listing"
)

func TestFormat(t *testing.T) {
	mapLoad := asm.LoadMapPtr(asm.R1, 0).WithReference("sock_map")
	valueLoad := asm.LoadMapValue(asm.R2, 0, 16).WithReference(".rodata")
	call := asm.Call.Label("add_bytes")
	sdiv := asm.Instruction{OpCode: asm.SDiv.Op(asm.RegSource), Dst: asm.R1, Src: asm.R2}
	tests := []struct {
		ins  asm.Instruction
		pc   int
		want string
	}{
		{asm.Mov.Imm(asm.R0, 1), 0, "r0 = 1"},
		{asm.Mov.Imm32(asm.R0, 1), 0, "w0 = 1"},
		{asm.Mov.Reg(asm.R6, asm.R1), 0, "r6 = r1"},
		{asm.Add.Imm(asm.R2, -4), 0, "r2 += -4"},
		{asm.Xor.Reg32(asm.R3, asm.R2), 0, "w3 ^= w2"},
		{asm.ArSh.Imm(asm.R1, 3), 0, "r1 s>>= 3"},
		{sdiv, 0, "r1 s/= r2"},
		{asm.Neg.Imm(asm.R4, 0), 0, "r4 = -r4"},
		{asm.HostTo(asm.BE, asm.R1, asm.Half), 0, "r1 = be16 r1"},
		{asm.BSwap(asm.R1, asm.Word), 0, "r1 = bswap32 r1"},
		{asm.MovSX8.Reg(asm.R1, asm.R2), 0, "r1 = (s8)r2"},
		{asm.LoadImm(asm.R1, 0x1234, asm.DWord), 0, "r1 = 0x1234 ll"},
		{mapLoad, 0, "r1 = map[sock_map]"},
		{valueLoad, 0, "r2 = &map[.rodata][16]"},
		{asm.LoadMem(asm.R1, asm.R6, 68, asm.Word), 0, "r1 = *(u32 *)(r6 + 68)"},
		{asm.LoadMemSX(asm.R1, asm.R6, 2, asm.Half), 0, "r1 = *(s16 *)(r6 + 2)"},
		{asm.StoreMem(asm.RFP, -4, asm.R1, asm.Word), 0, "*(u32 *)(r10 - 4) = r1"},
		{asm.StoreImm(asm.RFP, -8, 7, asm.Word), 0, "*(u32 *)(r10 - 8) = 7"},
		{asm.AddAtomic.Mem(asm.R0, asm.R1, asm.DWord, 0), 0, "lock *(u64 *)(r0 + 0) += r1"},
		{asm.FetchAdd.Mem(asm.R0, asm.R1, asm.Word, 8), 0, "w1 = atomic_fetch_add((u32 *)(r0 + 8), w1)"},
		{asm.Xchg.Mem(asm.R0, asm.R1, asm.DWord, 0), 0, "r1 = xchg_64(r0 + 0, r1)"},
		{asm.CmpXchg.Mem(asm.R0, asm.R1, asm.DWord, 0), 0, "r0 = cmpxchg_64(r0 + 0, r0, r1)"},
		{asm.Instruction{OpCode: asm.JEq.Op(asm.ImmSource), Dst: asm.R0, Offset: 2}, 13, "if r0 == 0 goto +2 <16>"},
		{withOffset(asm.JGT.Reg32(asm.R1, asm.R2, ""), -3), 10, "if w1 > w2 goto -3 <8>"},
		{asm.Instruction{OpCode: asm.JSLT.Op(asm.ImmSource), Dst: asm.R1, Constant: -1, Offset: 1}, -1, "if r1 s< -1 goto +1"},
		{asm.Instruction{OpCode: asm.Ja.Op(asm.ImmSource), Offset: 5}, 0, "goto +5 <6>"},
		{asm.FnMapLookupElem.Call(), 0, "call map_lookup_elem#1"},
		{asm.FnMsgRedirectHash.Call(), 0, "call msg_redirect_hash#71"},
		{asm.FnGetPrandomU32.Call(), 0, "call get_prandom_u32#7"},
		{call, 0, "call add_bytes"},
		{asm.Return(), 0, "exit"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, listing.Format(tt.ins, tt.pc))
		})
	}
}

func TestWrite(t *testing.T) {
	obj, err := loader.Open(testobj.Path("loader", "globals.o"))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, listing.Write(&buf, obj.Programs["msg_globals"]))
	out := buf.String()
	for _, want := range []string{
		"msg_globals: section sk_msg, type SkMsg, attach SkMsgVerdict,",
		"  maps: .bss, .data, .data.tags, .rodata, .rodata.banner, jump_table, sock_hash\n",
		"; msgs_seen++;  [./testdata/loader/globals.c:56]",
		"= &map[.bss][0]\n",
		"= map[jump_table]\n",
		"call tail_call#12\n",
		"call add_bytes\n",
		"\nadd_bytes:\n",
		"\nshould_log:\n",
		"; bytes_seen += n;",
	} {
		assert.Contains(t, out, want)
	}
	// Every instruction slot is listed once, in order.
	lines := strings.Split(out, "\n")
	next := 0
	for _, l := range lines {
		var pc int
		var rest string
		if n, _ := fmtSscanf(l, &pc, &rest); n == 2 {
			require.Equal(t, next, pc, l)
			next++
			if strings.HasSuffix(l, " ll") || strings.Contains(l, "map[") {
				next++ // LD_IMM64 takes two slots
			}
		}
	}
	assert.Equal(t, int(obj.Programs["msg_globals"].Instructions.Size()/asm.InstructionSize), next)
}

func withOffset(ins asm.Instruction, off int16) asm.Instruction {
	ins.Offset = off
	return ins
}
