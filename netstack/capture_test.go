package netstack

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// conversation runs a request/response with half-close over IPv4 and IPv6.
func conversation(t *testing.T, n *Network) {
	for _, a := range [][2]string{{"10.0.0.1", "10.0.0.2:80"}, {"fd00::1", "[fd00::2]:80"}} {
		cli, srv := pipe(t, n, a[0], a[1])
		_, err := cli.Write([]byte("hello"))
		require.NoError(t, err)
		require.NoError(t, cli.Shutdown(SHUT_WR))
		got, err := io.ReadAll(srv)
		require.NoError(t, err)
		require.Equal(t, "hello", string(got))
		_, err = srv.Write([]byte("world"))
		require.NoError(t, err)
		require.NoError(t, srv.Close())
		got, err = io.ReadAll(cli)
		require.NoError(t, err)
		require.Equal(t, "world", string(got))
		require.NoError(t, cli.Close())
		waitIdle(t, n)
	}
}

type decoded struct {
	ip6        bool
	tcp        *layers.TCP
	payload    string
	srcMAC     string
	ipChecksum bool
}

func readPcap(t *testing.T, data []byte) (layers.LinkType, []decoded) {
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	var out []decoded
	for {
		d, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, ci.Length, ci.CaptureLength)
		p := gopacket.NewPacket(d, r.LinkType(), gopacket.Default)
		require.Nil(t, p.ErrorLayer(), "frame %d does not decode", len(out)+1)
		tl, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		require.True(t, ok, "frame %d has no TCP layer", len(out)+1)
		dd := decoded{tcp: tl, payload: string(tl.Payload)}
		dd.ip6 = p.Layer(layers.LayerTypeIPv6) != nil
		if e, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); ok {
			dd.srcMAC = e.SrcMAC.String()
		}
		out = append(out, dd)
	}
	return r.LinkType(), out
}

func TestCaptureDecodes(t *testing.T) {
	n := newNet(t, Options{Seed: 5})
	path := filepath.Join(t.TempDir(), "conv.pcap")
	c, err := n.CaptureFile(path, CaptureOptions{SequentialTimestamps: true})
	require.NoError(t, err)
	conversation(t, n)
	require.NoError(t, c.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lt, frames := readPcap(t, data)
	assert.Equal(t, layers.LinkTypeEthernet, lt)
	require.Equal(t, int(c.Frames()), len(frames))
	assert.Equal(t, n.Stats().Frames, c.Frames())

	for _, v6 := range []bool{false, true} {
		var fs []decoded
		for _, f := range frames {
			if f.ip6 == v6 {
				fs = append(fs, f)
			}
		}
		require.GreaterOrEqual(t, len(fs), 7, "ipv6=%v", v6)
		// Three-way handshake first.
		assert.True(t, fs[0].tcp.SYN && !fs[0].tcp.ACK, "SYN")
		assert.True(t, fs[1].tcp.SYN && fs[1].tcp.ACK, "SYN-ACK")
		assert.True(t, !fs[2].tcp.SYN && fs[2].tcp.ACK, "ACK")
		assert.Equal(t, fs[0].tcp.Seq+1, fs[1].tcp.Ack)
		assert.Equal(t, fs[1].tcp.Seq+1, fs[2].tcp.Ack)
		assert.NotEqual(t, fs[0].srcMAC, fs[1].srcMAC, "each host has its own MAC")
		var payloads []string
		fins := map[layers.TCPPort]bool{}
		for _, f := range fs {
			if f.payload != "" {
				payloads = append(payloads, f.payload)
			}
			if f.tcp.FIN {
				fins[f.tcp.SrcPort] = true
			}
		}
		assert.Equal(t, []string{"hello", "world"}, payloads)
		assert.Len(t, fins, 2, "a FIN from each side")
		assert.False(t, fs[len(fs)-1].tcp.FIN || fs[len(fs)-1].tcp.SYN, "the last frame acknowledges the last FIN")
	}

	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: skipping its check")
		return
	}
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "frame.number", "-e", "tcp.checksum.status", "-o", "tcp.check_checksum:TRUE").Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	assert.Len(t, lines, len(frames), "tshark frame count")
	for _, l := range lines {
		assert.True(t, strings.HasSuffix(l, "\t1"), "tshark says checksum good (status 1): %q", l)
	}
}

func TestCaptureFilters(t *testing.T) {
	for _, tc := range []struct {
		file string
		lt   layers.LinkType
		want func(d decoded) bool
	}{
		{"dst80.dd", layers.LinkTypeEthernet, func(d decoded) bool { return d.tcp.DstPort == 80 }},
		{"dst80.ddd", layers.LinkTypeEthernet, func(d decoded) bool { return d.tcp.DstPort == 80 }},
		{"synfin.dd", layers.LinkTypeEthernet, func(d decoded) bool { return !d.ip6 && (d.tcp.SYN || d.tcp.FIN) }},
		{"raw80.dd", layers.LinkTypeRaw, func(d decoded) bool { return d.tcp.DstPort == 80 }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			prog, err := os.ReadFile(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			n := newNet(t, Options{})
			var all, filtered bytes.Buffer
			ca, err := n.Capture(&all, CaptureOptions{LinkType: tc.lt})
			require.NoError(t, err)
			cf, err := n.Capture(&filtered, CaptureOptions{LinkType: tc.lt, Filter: string(prog)})
			require.NoError(t, err)
			conversation(t, n)
			require.NoError(t, ca.Close())
			require.NoError(t, cf.Close())
			_, allFrames := readPcap(t, all.Bytes())
			lt, got := readPcap(t, filtered.Bytes())
			assert.Equal(t, tc.lt, lt)
			want := 0
			for _, f := range allFrames {
				if tc.want(f) {
					want++
				}
			}
			require.NotZero(t, want)
			require.Less(t, want, len(allFrames), "the filter must reject something")
			assert.Equal(t, want, len(got))
			for _, f := range got {
				assert.True(t, tc.want(f))
			}
			assert.Equal(t, cf.Seen(), ca.Frames())
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "\n\n", "no instructions"},
		{"three fields", "{ 0x28, 0, 0 },", "want 4 fields"},
		{"bad number", "{ 0x28, 0, zz, 0x0c },", "field 3"},
		{"jump too big", "{ 0x15, 300, 0, 0x0c },", "field 2"},
		{"no brace", "{ 0x6, 0, 0, 0x40000 ,", "closing brace"},
		{"ddd count", "3\n6 0 0 262144\n", "announces 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFilter(tc.text)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// A program x/net/bpf refuses (jump past the end) is reported by Capture.
	n := newNet(t, Options{})
	_, err := n.Capture(io.Discard, CaptureOptions{Filter: "{ 0x15, 5, 0, 0x0c },\n{ 0x6, 0, 0, 0 },"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "filter")
	_, err = n.Capture(io.Discard, CaptureOptions{LinkType: layers.LinkTypeLinuxSLL})
	assert.Error(t, err)
	prog, err := ParseFilter("{ 0x6, 0, 0, 0x00040000 },")
	require.NoError(t, err)
	assert.Equal(t, uint32(0x40000), prog[0].K)
	_ = strconv.Itoa
}

func TestChecksumModes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     Options
		zeroCsum bool
	}{
		{"computed while capturing", Options{}, false},
		{"always computed and verified", Options{VerifyChecksums: true}, false},
		{"offloaded", Options{ChecksumOffload: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, tc.opts)
			var buf bytes.Buffer
			c, err := n.Capture(&buf, CaptureOptions{})
			require.NoError(t, err)
			conversation(t, n)
			require.NoError(t, c.Close())
			_, frames := readPcap(t, buf.Bytes())
			require.NotEmpty(t, frames)
			for _, f := range frames {
				if tc.zeroCsum {
					assert.Zero(t, f.tcp.Checksum)
				} else {
					assert.NotZero(t, f.tcp.Checksum)
				}
			}
		})
	}
}
