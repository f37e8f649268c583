package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/skmsg/skmsg/loader"
)

func init() {
	register(&command{
		Name:    "init",
		Summary: "write a scenario skeleton for objects",
		Usage: `usage: skmsg-run init [-o FILE] [-f] OBJ...

Writes a scenario file that runs as it is (exit 0 or 1, never 2) and says
with # TODO what to decide: every sockmap program of the objects with the
attach kind its section implies, the maps with their key and value sizes
and a commented example entry, two connections, and one send/recv pair per
sk_msg or verdict program. Programs of other types are listed in comments.

  -o FILE   write the scenario to FILE (object paths are written relative
            to its directory) instead of standard output
  -f        overwrite FILE if it exists`,
		Run: runInit,
	})
}

func runInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the scenario to `FILE`")
	force := fs.Bool("f", false, "overwrite FILE")
	fs.Usage = func() { fmt.Fprintln(stderr, strings.TrimSpace(commands["init"].Usage)) }
	objs, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(objs) == 0 {
		fmt.Fprintln(stderr, "skmsg-run init: no object given")
		fs.Usage()
		return exitUsage
	}
	dir := "."
	if *out != "" {
		dir = filepath.Dir(*out)
	}
	text, err := scenarioSkeleton(objs, dir)
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run init: %v\n", err)
		return exitUsage
	}
	if *out == "" {
		if _, err := io.WriteString(stdout, text); err != nil {
			fmt.Fprintf(stderr, "skmsg-run init: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !*force {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(*out, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		fmt.Fprintf(stderr, "skmsg-run init: %s exists (-f overwrites it)\n", *out)
		return exitUsage
	}
	if err == nil {
		_, err = io.WriteString(f, text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "skmsg-run init: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "wrote %s: run it with skmsg-run run %s\n", *out, *out)
	return exitOK
}

// initObject is one object of the skeleton.
type initObject struct {
	name string // the objects: name (several objects only)
	path string // as written in the file
	spec *ebpf.CollectionSpec
	// marks say why skmsg cannot run a program, by name (disasm.go).
	marks map[string]string
}

// initProgram is one program and how the skeleton uses it.
type initProgram struct {
	obj    *initObject
	name   string
	attach string // "" for programs of other types
	why    string // TODO text for the attach line
	mapRef string
	conn   string // the connection whose sockets run it: a, or b for a second program of a kind
	// commented is set when the program cannot be attached next to
	// another of the same kind on the same map.
	commented bool
	// cannotRun says why skmsg cannot run the program (a kfunc, a helper
	// it does not implement, ...): the skeleton leaves it commented, so
	// that the file runs.
	cannotRun string
}

// scenarioSkeleton builds the skeleton for the objects at paths; dir is
// the directory the scenario file will live in.
func scenarioSkeleton(paths []string, dir string) (string, error) {
	var objs []*initObject
	used := map[string]int{}
	for _, p := range paths {
		spec, err := loader.OpenSpec(p)
		if err != nil {
			return "", err
		}
		rel := p
		if absDir, err := filepath.Abs(dir); err == nil {
			if absP, err := filepath.Abs(p); err == nil {
				// A path that climbs far out of the file's directory is
				// clearer absolute.
				if r, err := filepath.Rel(absDir, absP); err == nil && !strings.HasPrefix(r, "../../") {
					rel = r
				} else {
					rel = absP
				}
			}
		}
		base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		used[base]++
		name := base
		if used[base] > 1 {
			name = fmt.Sprintf("%s%d", base, used[base])
		}
		marks := map[string]string{}
		if obj, err := loader.Open(p); err == nil {
			marks = programMarks(obj)
		}
		objs = append(objs, &initObject{name: name, path: filepath.ToSlash(rel), spec: spec, marks: marks})
	}
	several := len(objs) > 1

	// Map names defined by more than one object are written OBJECT/NAME.
	mapCount := map[string]int{}
	for _, o := range objs {
		for name := range o.spec.Maps {
			mapCount[name]++
		}
	}
	mapRef := func(o *initObject, name string) string {
		if several && mapCount[name] > 1 {
			return o.name + "/" + name
		}
		return name
	}
	progCount := map[string]int{}
	for _, o := range objs {
		for name := range o.spec.Programs {
			progCount[name]++
		}
	}

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	var names []string
	for _, o := range objs {
		names = append(names, filepath.Base(o.path))
	}
	w("# Scenario skeleton written by skmsg-run init for %s.\n", strings.Join(names, ", "))
	w("# It runs as it is; every # TODO marks what only you can decide.\n")
	w("# The format is described in docs/scenarios.md.\n")
	w("name: %s # TODO: say what this scenario shows\n", yamlString(strings.Join(names, " + ")))
	if several {
		w("objects:\n")
		for _, o := range objs {
			w("  - {name: %s, path: %s}\n", o.name, yamlString(o.path))
		}
	} else {
		w("object: %s\n", yamlString(objs[0].path))
	}

	// Names of the maps the skeleton creates, clear of the objects' own.
	freeName := func(base string) string {
		name := base
		for i := 2; mapCount[name] > 0; i++ {
			name = fmt.Sprintf("%s%d", base, i)
		}
		mapCount[name]++
		return name
	}
	created, second := freeName("sock_map"), freeName("sock_map_b")

	// The socket maps programs attach to: the object's first sockmap or
	// sockhash, else one the scenario creates.
	var progs []*initProgram
	var useCreated bool
	for _, o := range objs {
		target := ""
		for _, name := range sortedMapNames(o.spec) {
			if t := o.spec.Maps[name].Type; t == ebpf.SockMap || t == ebpf.SockHash {
				target = mapRef(o, name)
				break
			}
		}
		for _, name := range sortedProgNames(o.spec) {
			ps := o.spec.Programs[name]
			ip := &initProgram{obj: o, name: name}
			ip.attach, ip.why = attachOf(ps)
			if m := o.marks[name]; strings.HasPrefix(m, cannotRunMark) {
				ip.cannotRun = strings.TrimPrefix(m, cannotRunMark)
			}
			if ip.attach != "" && ip.attach != "sockops" {
				if target == "" {
					target, useCreated = created, true
				}
				ip.mapRef = target
			}
			progs = append(progs, ip)
		}
	}
	// A socket carries one program of each kind (the kernel refuses a
	// second with EBUSY), and so does a map: the first program of a kind
	// runs on connection a's sockets in its map, the second on connection
	// b's, in its own map when that map is not a's, else in a map the
	// scenario creates; more are left commented. One sockops program is
	// attached; the others would all run at once.
	mapConn := map[string]string{} // map -> the connection whose sockets go there
	kindConn := map[string]map[string]bool{}
	useB, anyProg, sockops := false, false, false
	for _, ip := range progs {
		switch {
		case ip.attach == "", ip.cannotRun != "":
			continue
		case ip.attach == "sockops":
			ip.commented = sockops
			sockops, anyProg = true, true
			continue
		}
		used := kindConn[ip.attach]
		if used == nil {
			used = map[string]bool{}
			kindConn[ip.attach] = used
		}
		switch c := mapConn[ip.mapRef]; {
		case !used["a"] && (c == "" || c == "a"):
			ip.conn = "a"
		case !used["b"]:
			ip.conn = "b"
			if c != "" && c != "b" {
				ip.mapRef, useB = second, true
			}
		default:
			ip.commented = true
			continue
		}
		mapConn[ip.mapRef] = ip.conn
		used[ip.conn] = true
		anyProg = true
	}

	if useCreated || useB {
		w("create_maps:\n")
	}
	if useCreated {
		w("  # TODO: an object has no sockmap or sockhash; its programs attach to this one\n")
		w("  - {name: %s, type: sockmap, key_size: 4, value_size: 4, max_entries: 8}\n", created)
	}
	if useB {
		w("  # A second program of a kind needs a map of its own (the kernel keeps one per map):\n")
		w("  # connection b's sockets go there.\n")
		w("  - {name: %s, type: sockmap, key_size: 4, value_size: 4, max_entries: 8}\n", second)
	}

	w("programs:\n")
	var others []*initProgram
	for _, ip := range progs {
		if ip.attach == "" {
			others = append(others, ip)
			continue
		}
		line := "{program: " + ip.name
		if several && progCount[ip.name] > 1 {
			line += ", object: " + ip.obj.name
		}
		line += ", attach: " + ip.attach
		if ip.mapRef != "" {
			line += ", map: " + ip.mapRef
		}
		line += "}"
		switch {
		case ip.cannotRun != "":
			w("  # - %s # skmsg cannot run this program: %s\n", line, firstLineOf(ip.cannotRun))
		case ip.commented:
			w("  # - %s # TODO: a socket carries one %s program: attach it to another map with other sockets\n", line, ip.attach)
		case ip.why != "":
			w("  - %s # TODO: %s\n", line, ip.why)
		default:
			w("  - %s\n", line)
		}
	}
	if !anyProg {
		w("  [] # TODO: the objects have no sk_msg, sk_skb or sockops program\n")
	}
	for _, ip := range others {
		w("  # %s (section %q, type %s) is not a sockmap program: skmsg does not attach it\n",
			ip.name, ip.obj.spec.Programs[ip.name].SectionName, ip.obj.spec.Programs[ip.name].Type)
	}

	w("connections:\n")
	w("  - name: a # a.client sends, a.server receives\n")
	if len(mapConn) > 0 && slices.Contains(slices.Collect(maps.Values(mapConn)), "b") {
		w("  - name: b # runs the second program of a kind\n")
	} else {
		w("  - name: b # TODO: a second pair, e.g. a redirect target\n")
	}

	// maps: sockets go into the target maps so the programs run; other
	// maps get a commented example.
	w("maps:\n")
	wroteMap := false
	var lookups []string
	for _, o := range objs {
		for _, name := range sortedMapNames(o.spec) {
			ms := o.spec.Maps[name]
			ref := mapRef(o, name)
			w("  # %s: %s\n", ref, describeMapSpec(ms))
			switch {
			case ms.Type == ebpf.SockMap || ms.Type == ebpf.SockHash:
				wroteMap = sockEntries(w, ref, ms.KeySize, ms.MaxEntries, mapConn[ref]) || wroteMap
			case ms.Type == ebpf.RingBuf || ms.Type == ebpf.PerfEventArray:
				w("  #   (an event map: read its records with an events step)\n")
				lookups = append(lookups, fmt.Sprintf("# - events: {map: %s, count: 1} # TODO: how many records the programs wrote", ref))
			case ms.Type == ebpf.ProgramArray || ms.Type == ebpf.ArrayOfMaps || ms.Type == ebpf.HashOfMaps:
				w("  #   (filled by the loader from the object, if at all)\n")
			case ms.Type == ebpf.SkStorage:
				w("  #   (per-socket storage: the programs fill it)\n")
			case isGlobalData(name):
				lookups = append(lookups, fmt.Sprintf("# - lookup: {map: %s, key: u32:0, value: %s} # TODO: the section's expected contents", ref, sized(ms.ValueSize, 0)))
			case ms.ValueSize == 0:
			case ms.Type == ebpf.PerCPUArray || ms.Type == ebpf.PerCPUHash || ms.Type == ebpf.LRUCPUHash:
				w("  # - {map: %s, key: %s, value: %s} # TODO: initial contents (written on every CPU)\n", ref, typed(ms.Key, ms.KeySize, 0), typed(ms.Value, ms.ValueSize, 0))
				lookups = append(lookups, fmt.Sprintf("# - lookup: {map: %s, key: %s, sum: %s} # TODO: what the programs left there, all CPUs added", ref, typed(ms.Key, ms.KeySize, 0), typed(ms.Value, ms.ValueSize, 0)))
			default:
				w("  # - {map: %s, key: %s, value: %s} # TODO: initial contents\n", ref, typed(ms.Key, ms.KeySize, 0), typed(ms.Value, ms.ValueSize, 0))
				lookups = append(lookups, fmt.Sprintf("# - lookup: {map: %s, key: %s, value: %s} # TODO: what the programs left there", ref, typed(ms.Key, ms.KeySize, 0), typed(ms.Value, ms.ValueSize, 0)))
			}
		}
	}
	if useCreated {
		wroteMap = sockEntries(w, created, 4, 8, mapConn[created]) || wroteMap
	}
	if useB {
		wroteMap = sockEntries(w, second, 4, 8, "b") || wroteMap
	}
	if !wroteMap {
		w("  [] # TODO: no map takes sockets\n")
	}

	w("steps:\n")
	steps := 0
	for _, ip := range progs {
		if ip.attach == "" || ip.attach == "sockops" || ip.attach == "stream_parser" {
			continue
		}
		prefix := ""
		if ip.commented {
			prefix = "# "
		}
		conn := ip.conn
		if conn == "" {
			conn = "a"
		}
		w("  # %s (%s) runs on this send.\n", ip.name, ip.attach)
		msg := "hello " + ip.name
		w("  %s- send: {socket: %s.client, data: %s}\n", prefix, conn, yamlString(msg))
		w("  %s  expect: {ret: %d} # TODO: an error if the program drops (EACCES)\n", prefix, len(msg))
		w("  %s- recv: {socket: %s.server, data: %s} # TODO: what arrives depends on the verdict\n", prefix, conn, yamlString(msg))
		if !ip.commented {
			steps++
		}
	}
	for _, ip := range progs {
		if ip.attach == "sockops" && !ip.commented {
			w("  # %s ran as the connections were made.\n", ip.name)
		}
	}
	if steps == 0 {
		w("  - send: {socket: a.client, data: \"hello\"} # TODO: the traffic your programs see\n")
		w("  - recv: {socket: a.server, data: \"hello\"}\n")
	}
	for _, l := range lookups {
		w("  %s\n", l)
	}
	return b.String(), nil
}

// sockEntries writes the maps: entries of a socket map: conn's sockets
// (the client's sends run its sk_msg program, what the server receives
// its verdict program), or commented examples for a map no program is
// attached to. It reports whether it wrote an entry.
func sockEntries(w func(string, ...any), ref string, keySize, maxEntries uint32, conn string) bool {
	other := "b"
	if conn == "b" {
		other = "a"
	}
	if conn == "" {
		w("  # - {map: %s, key: %s, socket: b.server} # TODO: no program is attached to this map: a redirect target?\n", ref, sized(keySize, 0))
		return false
	}
	w("  - {map: %s, key: %s, socket: %s.client} # its programs run on %s's sockets\n", ref, sized(keySize, 0), conn, conn)
	if maxEntries >= 2 {
		w("  - {map: %s, key: %s, socket: %s.server}\n", ref, sized(keySize, 1), conn)
	}
	if maxEntries >= 3 {
		w("  # - {map: %s, key: %s, socket: %s.server} # TODO: a redirect target\n", ref, sized(keySize, 2), other)
	}
	return true
}

// attachOf is the attach kind a program's type and section imply, with a
// TODO when the section does not say.
func attachOf(ps *ebpf.ProgramSpec) (attach, why string) {
	switch ps.Type {
	case ebpf.SkMsg:
		return "sk_msg", ""
	case ebpf.SockOps:
		return "sockops", ""
	case ebpf.SkSKB:
		switch ps.AttachType {
		case ebpf.AttachSkSKBStreamParser:
			return "stream_parser", ""
		case ebpf.AttachSkSKBStreamVerdict:
			return "stream_verdict", ""
		case ebpf.AttachSkSKBVerdict:
			return "skb_verdict", ""
		}
		return "stream_verdict", fmt.Sprintf("section %q says sk_skb only: stream_parser, stream_verdict or skb_verdict?", ps.SectionName)
	case ebpf.UnspecifiedProgram:
		// Legacy and free-form section names: guess from the name.
		s := strings.ToLower(ps.SectionName + " " + ps.Name)
		switch {
		case strings.Contains(s, "parser"):
			return "stream_parser", fmt.Sprintf("section %q does not say the program's type", ps.SectionName)
		case strings.Contains(s, "skb") || strings.Contains(s, "verdict"):
			return "stream_verdict", fmt.Sprintf("section %q does not say the program's type", ps.SectionName)
		case strings.Contains(s, "sockops") || strings.Contains(s, "sock_ops"):
			return "sockops", fmt.Sprintf("section %q does not say the program's type", ps.SectionName)
		case strings.Contains(s, "msg"):
			return "sk_msg", fmt.Sprintf("section %q does not say the program's type", ps.SectionName)
		}
	}
	return "", ""
}

func describeMapSpec(ms *ebpf.MapSpec) string {
	s := fmt.Sprintf("%s, key %d bytes", strings.ToLower(ms.Type.String()), ms.KeySize)
	if t := typeName(ms.Key); t != "" {
		s += " (" + t + ")"
	}
	s += fmt.Sprintf(", value %d bytes", ms.ValueSize)
	if t := typeName(ms.Value); t != "" {
		s += " (" + t + ")"
	}
	return s + fmt.Sprintf(", max_entries %d", ms.MaxEntries)
}

// typeName names a BTF key or value type for the comment ("struct tuple").
func typeName(t btf.Type) string {
	if t == nil {
		return ""
	}
	t = btf.UnderlyingType(t)
	switch v := t.(type) {
	case *btf.Struct:
		if v.Name != "" {
			return "struct " + v.Name
		}
	case *btf.Union:
		if v.Name != "" {
			return "union " + v.Name
		}
	case *btf.Int:
		return v.Name
	}
	return ""
}

// typed writes a value of BTF type t in the value syntax when t is an
// integer or a struct of integers without holes (one field per member,
// the first holding n), else falls back to sized.
func typed(t btf.Type, size uint32, n int) string {
	var ints []uint32
	switch v := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		ints = []uint32{v.Size}
	case *btf.Struct:
		off := uint32(0)
		for _, m := range v.Members {
			i, ok := btf.UnderlyingType(m.Type).(*btf.Int)
			if !ok || m.BitfieldSize != 0 || m.Offset.Bytes() != off {
				return sized(size, n)
			}
			ints = append(ints, i.Size)
			off += i.Size
		}
		if off != size {
			return sized(size, n)
		}
	default:
		return sized(size, n)
	}
	var f []string
	for i, sz := range ints {
		name := map[uint32]string{1: "u8", 2: "u16", 4: "u32", 8: "u64"}[sz]
		if name == "" {
			return sized(size, n)
		}
		v := 0
		if i == 0 {
			v = n
		}
		f = append(f, fmt.Sprintf("%s:%d", name, v))
	}
	return strings.Join(f, " ")
}

// sized writes n as a value of size bytes in the value syntax: one
// integer field for sizes of 1, 2, 4 and 8, else n in a leading u32
// followed by zero fields, or zero bytes in hex for big values.
func sized(size uint32, n int) string {
	switch size {
	case 1:
		return fmt.Sprintf("u8:%d", n)
	case 2:
		return fmt.Sprintf("u16:%d", n)
	case 4:
		return fmt.Sprintf("u32:%d", n)
	case 8:
		return fmt.Sprintf("u64:%d", n)
	}
	if size == 0 || size > 32 {
		return "hex:" + strings.Repeat("00", int(size))
	}
	var f []string
	left := size
	if left >= 4 {
		f, left = append(f, fmt.Sprintf("u32:%d", n)), left-4
	} else {
		f, left = append(f, fmt.Sprintf("u8:%d", n)), left-1
	}
	for _, w := range []struct {
		n    uint32
		name string
	}{{8, "u64"}, {4, "u32"}, {2, "u16"}, {1, "u8"}} {
		for left >= w.n {
			f, left = append(f, w.name+":0"), left-w.n
		}
	}
	return strings.Join(f, " ")
}

func isGlobalData(name string) bool {
	return name == ".bss" || strings.HasPrefix(name, ".data") || strings.HasPrefix(name, ".rodata")
}

func sortedMapNames(spec *ebpf.CollectionSpec) []string {
	names := make([]string, 0, len(spec.Maps))
	for n := range spec.Maps {
		if n == ".kconfig" || strings.HasPrefix(n, ".rodata.str") {
			continue // not addressable from a scenario
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortedProgNames(spec *ebpf.CollectionSpec) []string {
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// yamlString quotes s for a flow context.
func yamlString(s string) string { return fmt.Sprintf("%q", s) }
