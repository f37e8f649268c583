package helpers

import (
	"bufio"
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Hook is a program type as the kernel's helper tables tell them apart.
// SK_SKB has one table for the stream parser and the verdict, but the
// probe records both so that a kernel that splits them is noticed.
type Hook uint8

const (
	SkMsg Hook = iota
	SkSkbParser
	SkSkbVerdict
	SockOps
	numHooks
)

// Hooks are all hooks, in the table's column order.
var Hooks = []Hook{SkMsg, SkSkbParser, SkSkbVerdict, SockOps}

var hookNames = [numHooks]string{"sk_msg", "sk_skb/stream_parser", "sk_skb/stream_verdict", "sockops"}

func (h Hook) String() string {
	if h < numHooks {
		return hookNames[h]
	}
	return fmt.Sprintf("Hook(%d)", uint8(h))
}

// ProgramType and AttachType are what a program of the hook is loaded
// with.
func (h Hook) ProgramType() ebpf.ProgramType {
	switch h {
	case SkMsg:
		return ebpf.SkMsg
	case SkSkbParser, SkSkbVerdict:
		return ebpf.SkSKB
	case SockOps:
		return ebpf.SockOps
	}
	return ebpf.UnspecifiedProgram
}

func (h Hook) AttachType() ebpf.AttachType {
	switch h {
	case SkMsg:
		return ebpf.AttachSkMsgVerdict
	case SkSkbParser:
		return ebpf.AttachSkSKBStreamParser
	case SkSkbVerdict:
		return ebpf.AttachSkSKBStreamVerdict
	case SockOps:
		return ebpf.AttachCGroupSockOps
	}
	return ebpf.AttachNone
}

// HookOf is the hook of a program of type t with expected attach type at.
// An SK_SKB program without an attach type (section "sk_skb") may be
// attached as parser or verdict; it gets the verdict's table (the kernel
// has one table for both).
func HookOf(t ebpf.ProgramType, at ebpf.AttachType) (Hook, bool) {
	switch t {
	case ebpf.SkMsg:
		return SkMsg, true
	case ebpf.SkSKB:
		if at == ebpf.AttachSkSKBStreamParser {
			return SkSkbParser, true
		}
		return SkSkbVerdict, true
	case ebpf.SockOps:
		return SockOps, true
	}
	return 0, false
}

// Helper is one helper the kernel knows.
type Helper struct {
	ID   asm.BuiltinFunc
	Name string // kernel name without the bpf_ prefix: "sk_redirect_map"
	// hooks has bit h set when hook h may call the helper.
	hooks uint8
	// Sleepable: the helper's prototype says it might sleep, so the
	// verifier refuses it in these programs, which never sleep ("helper
	// call might sleep in a non-sleepable prog").
	Sleepable bool
}

// AllowedIn reports whether programs of hook h may call the helper.
func (hp Helper) AllowedIn(h Hook) bool { return h < numHooks && hp.hooks&(1<<h) != 0 }

// Table is a recorded helper table.
type Table struct {
	// Kernel is the kernel release the table was recorded on.
	Kernel string
	// ByID holds every helper ID the kernel knows (1 up to its
	// __BPF_FUNC_MAX_ID - 1), allowed anywhere or not.
	ByID map[asm.BuiltinFunc]Helper
	// MaxID is the highest ID the kernel knows.
	MaxID asm.BuiltinFunc
}

//go:embed testdata/kernel_helpers.txt
var recorded string

var load = sync.OnceValues(func() (*Table, error) { return Parse(recorded) })

// Kernel returns the table recorded from the kernel (see the package
// documentation). It panics if the embedded data is malformed, which a
// test rules out.
func Kernel() *Table {
	t, err := load()
	if err != nil {
		panic(fmt.Sprintf("helpers: embedded table: %v", err))
	}
	return t
}

// Allowed reports whether the kernel lets programs of hook h call helper
// id.
func Allowed(h Hook, id asm.BuiltinFunc) bool {
	hp, ok := Kernel().ByID[id]
	return ok && hp.AllowedIn(h)
}

// Known reports whether the kernel knows helper id at all; a call to an
// unknown ID is "invalid func unknown#ID".
func Known(id asm.BuiltinFunc) bool {
	_, ok := Kernel().ByID[id]
	return ok
}

// ForHook lists the helpers hook h may call, by ID.
func (t *Table) ForHook(h Hook) []Helper {
	var out []Helper
	for _, hp := range t.ByID {
		if hp.AllowedIn(h) {
			out = append(out, hp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Name is the kernel's name of helper id without the bpf_ prefix
// (FnGetSocketCookie -> "get_socket_cookie"), "helper_N" for an ID
// nobody named.
func Name(id asm.BuiltinFunc) string {
	if hp, ok := Kernel().ByID[id]; ok && hp.Name != "" {
		return hp.Name
	}
	return nameFromAsm(id)
}

// nameFromAsm derives the kernel name from cilium/ebpf's Go name.
func nameFromAsm(id asm.BuiltinFunc) string {
	n := strings.TrimPrefix(id.String(), "Fn")
	if strings.HasPrefix(n, "BuiltinFunc(") {
		return fmt.Sprintf("helper_%d", int32(id))
	}
	var b strings.Builder
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c >= 'A' && c <= 'Z' {
			// A word starts at an upper-case letter after a lower-case
			// one or a digit, or at the last capital of an acronym.
			if i > 0 && (isLower(n[i-1]) || isDigit(n[i-1]) || (i+1 < len(n) && isLower(n[i+1]) && isUpper(n[i-1]))) {
				b.WriteByte('_')
			}
			b.WriteByte(c + 'a' - 'A')
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Parse reads a table in the format of testdata/kernel_helpers.txt:
// "# kernel RELEASE", then one line per helper ID, "ID NAME" followed by
// one y or - per hook in Hooks order (s for a helper the hook's table has
// but whose prototype might sleep).
func Parse(text string) (*Table, error) {
	t := &Table{ByID: map[asm.BuiltinFunc]Helper{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(s, "# kernel "); ok {
			t.Kernel = strings.TrimSpace(rest)
			continue
		}
		if strings.HasPrefix(s, "#") {
			continue
		}
		f := strings.Fields(s)
		if len(f) != 2+int(numHooks) {
			return nil, fmt.Errorf("line %d: %d fields, want id, name and %d columns", line, len(f), numHooks)
		}
		id, err := strconv.ParseUint(f[0], 10, 31)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("line %d: helper id %q is not a positive number", line, f[0])
		}
		hp := Helper{ID: asm.BuiltinFunc(id), Name: f[1]}
		for i, col := range f[2:] {
			switch col {
			case "y":
				hp.hooks |= 1 << i
			case "s":
				hp.hooks |= 1 << i
				hp.Sleepable = true
			case "-":
			default:
				return nil, fmt.Errorf("line %d: column %s is %q, want y, s or -", line, Hook(i), col)
			}
		}
		if _, dup := t.ByID[hp.ID]; dup {
			return nil, fmt.Errorf("line %d: helper %d listed twice", line, id)
		}
		t.ByID[hp.ID] = hp
		t.MaxID = max(t.MaxID, hp.ID)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.ByID) == 0 {
		return nil, fmt.Errorf("no helpers in table")
	}
	for id := asm.BuiltinFunc(1); id <= t.MaxID; id++ {
		if _, ok := t.ByID[id]; !ok {
			return nil, fmt.Errorf("helper %d missing (the table lists every ID up to %d)", id, t.MaxID)
		}
	}
	return t, nil
}

// Format writes t in the format Parse reads.
func (t *Table) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# BPF helpers each sockmap program type may call, probed from the kernel\n")
	fmt.Fprintf(&b, "# (go test ./internal/helpers -run TestKernelHelperTable -update).\n")
	fmt.Fprintf(&b, "# kernel %s\n", t.Kernel)
	fmt.Fprintf(&b, "# id name")
	for _, h := range Hooks {
		fmt.Fprintf(&b, " %s", h)
	}
	b.WriteString("\n")
	for id := asm.BuiltinFunc(1); id <= t.MaxID; id++ {
		hp := t.ByID[id]
		fmt.Fprintf(&b, "%d %s", id, hp.Name)
		for _, h := range Hooks {
			if hp.AllowedIn(h) && hp.Sleepable {
				b.WriteString(" s")
			} else if hp.AllowedIn(h) {
				b.WriteString(" y")
			} else {
				b.WriteString(" -")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Set records that hook h may (or may not) call helper id; the probe
// builds tables with it.
func (t *Table) Set(id asm.BuiltinFunc, name string, h Hook, allowed, sleepable bool) {
	hp := t.ByID[id]
	hp.ID, hp.Name = id, name
	hp.Sleepable = hp.Sleepable || sleepable
	if allowed {
		hp.hooks |= 1 << h
	} else {
		hp.hooks &^= 1 << h
	}
	t.ByID[id] = hp
	t.MaxID = max(t.MaxID, id)
}
