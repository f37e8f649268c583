package scenario

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/skmsg/skmsg/loader"
)

// Load parses a scenario file, reads its objects and checks every name and
// value size against them.
func Load(path string) (*Scenario, error) {
	sc, err := Parse(path)
	if err != nil {
		return nil, err
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

type validator struct {
	sc   *Scenario
	errs ErrorList
}

func (v *validator) errorf(pos Pos, path, format string, args ...any) {
	v.errs = append(v.errs, &Error{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate loads the object specs (ELF and BTF only, no kernel) and
// resolves program, map and socket names, fills in the load plan and checks
// that keys and values have their maps' sizes.
func (sc *Scenario) Validate() error {
	v := &validator{sc: sc}
	sc.MapDefs, sc.Addresses, sc.validated = nil, nil, false
	for i, o := range sc.Objects {
		// loader's reader says what a file that is no ELF object is.
		spec, err := loader.OpenSpec(o.Path)
		if err != nil {
			v.errorf(o.Pos, fmt.Sprintf("objects[%d]", i), "cannot read object: %v", err)
			continue
		}
		// iproute2-style map definitions (Cilium 1.x): inner map
		// templates and pre-population as iproute2 does them, for every
		// backend.
		if _, err := loader.ResolveLegacyMaps(spec); err != nil {
			v.errorf(o.Pos, fmt.Sprintf("objects[%d]", i), "object %s: %v", o.Path, err)
			continue
		}
		o.Spec = spec
	}
	if len(v.errs) > 0 {
		return v.errs
	}
	v.planMaps()
	for i, pr := range sc.Programs {
		v.resolveProgram(pr, fmt.Sprintf("programs[%d]", i), true)
	}
	v.addresses()
	known := map[string]Pos{}
	for _, l := range sc.Listeners {
		v.define(known, l.Name, l.Pos, "listeners")
	}
	for _, c := range sc.Connections {
		v.define(known, c.Name+".client", c.Pos, "connections")
		v.define(known, c.Name+".server", c.Pos, "connections")
	}
	for i, s := range sc.Maps {
		v.step(s, fmt.Sprintf("maps[%d]", i), known)
	}
	for i, s := range sc.Steps {
		v.step(s, fmt.Sprintf("steps[%d].%s", i, s.Kind), known)
	}
	if len(v.errs) > 0 {
		sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Pos.Line < v.errs[j].Pos.Line })
		return v.errs
	}
	sc.validated = true
	return nil
}

func (v *validator) define(known map[string]Pos, name string, pos Pos, path string) {
	if prev, ok := known[name]; ok {
		v.errorf(pos, path, "socket %q already defined at %s", name, prev)
		return
	}
	known[name] = pos
}

func isDataSection(name string) bool {
	return name == ".bss" || strings.HasPrefix(name, ".data") || strings.HasPrefix(name, ".rodata") || name == ".kconfig"
}

func sameShape(a, b *ebpf.MapSpec) bool {
	return a.Type == b.Type && a.KeySize == b.KeySize && a.ValueSize == b.ValueSize &&
		a.MaxEntries == b.MaxEntries && a.Flags == b.Flags
}

// planMaps decides which maps are one: same name and same shape across
// objects and create_maps share an instance; global data never does.
func (v *validator) planMaps() {
	sc := v.sc
	add := func(name string, spec *ebpf.MapSpec, created bool, pos Pos) MapID {
		id := MapID(len(sc.MapDefs))
		sc.MapDefs = append(sc.MapDefs, &MapDef{ID: id, Name: name, Spec: spec, Created: created, Pos: pos})
		return id
	}
	for i, d := range sc.CreateMaps {
		for _, prev := range sc.CreateMaps[:i] {
			if prev.Name == d.Name {
				v.errorf(d.Pos, fmt.Sprintf("create_maps[%d]", i), "map %q already created at %s", d.Name, prev.Pos)
			}
		}
		add(d.Name, &ebpf.MapSpec{Name: d.Name, Type: d.Type, KeySize: d.KeySize, ValueSize: d.ValueSize, MaxEntries: d.MaxEntries, Flags: d.Flags}, true, d.Pos)
	}
	for _, o := range sc.Objects {
		o.Maps = map[string]MapID{}
		for _, name := range sortedKeys(o.Spec.Maps) {
			ms := o.Spec.Maps[name]
			bound := false
			if !isDataSection(name) {
				for _, d := range sc.MapDefs {
					if d.Name == name && sameShape(d.Spec, ms) && !isDataSection(d.Name) {
						o.Maps[name] = d.ID
						bound = true
						break
					}
				}
			}
			if !bound {
				o.Maps[name] = add(name, ms, false, o.Pos)
			}
		}
	}
	// Names that are not unique are shown with their object.
	count := map[string]int{}
	for _, d := range sc.MapDefs {
		count[d.Name]++
	}
	for _, o := range sc.Objects {
		for name, id := range o.Maps {
			d := sc.MapDefs[id]
			if count[name] > 1 && !d.Created && d.Name == name && o.Name != "" {
				d.Name = o.Name + "/" + name
			}
		}
	}
}

// lookupMap resolves NAME or OBJECT/NAME.
func (v *validator) lookupMap(ref string, pos Pos, path string) MapID {
	sc := v.sc
	if obj, name, ok := strings.Cut(ref, "/"); ok {
		for _, o := range sc.Objects {
			if o.Name == obj {
				if id, ok := o.Maps[name]; ok {
					return id
				}
				v.errorf(pos, path, "object %q has no map %q (it has %s)", obj, name, strings.Join(sortedKeys(o.Maps), ", "))
				return NoMap
			}
		}
		v.errorf(pos, path, "no object named %q", obj)
		return NoMap
	}
	var found []MapID
	seen := map[MapID]bool{}
	for _, d := range sc.MapDefs {
		if d.Created && d.Name == ref && !seen[d.ID] {
			found, seen[d.ID] = append(found, d.ID), true
		}
	}
	for _, o := range sc.Objects {
		if id, ok := o.Maps[ref]; ok && !seen[id] {
			found, seen[id] = append(found, id), true
		}
	}
	switch len(found) {
	case 1:
		return found[0]
	case 0:
		var names []string
		for _, d := range sc.MapDefs {
			names = append(names, d.Name)
		}
		v.errorf(pos, path, "no map named %q (maps: %s)", ref, strings.Join(names, ", "))
	default:
		var names []string
		for _, id := range found {
			names = append(names, sc.MapDefs[id].Name)
		}
		v.errorf(pos, path, "map name %q is ambiguous: write one of %s", ref, strings.Join(names, ", "))
	}
	return NoMap
}

func (v *validator) findObject(name string, pos Pos, path string) *Object {
	sc := v.sc
	if name != "" {
		for _, o := range sc.Objects {
			if o.Name == name {
				return o
			}
		}
		v.errorf(pos, path, "no object named %q", name)
		return nil
	}
	return nil
}

// resolveProgram finds the program in its object, decides its type and
// resolves its target map.
func (v *validator) resolveProgram(pr *Program, path string, setup bool) {
	sc := v.sc
	var obj *Object
	if pr.ObjectName != "" {
		obj = v.findObject(pr.ObjectName, pr.At("object"), path+".object")
		if obj == nil {
			return
		}
	} else {
		var in []*Object
		for _, o := range sc.Objects {
			if _, ok := o.Spec.Programs[pr.Name]; ok {
				in = append(in, o)
			}
		}
		switch len(in) {
		case 0:
			var names []string
			for _, o := range sc.Objects {
				names = append(names, sortedKeys(o.Spec.Programs)...)
			}
			if len(sc.Objects) == 0 {
				v.errorf(pr.At("program"), path+".program", "program %q: the scenario has no object", pr.Name)
			} else {
				v.errorf(pr.At("program"), path+".program", "no program %q (programs: %s)", pr.Name, strings.Join(names, ", "))
			}
			return
		case 1:
			obj = in[0]
		default:
			var names []string
			for _, o := range in {
				names = append(names, o.Name)
			}
			v.errorf(pr.At("program"), path+".program", "program %q is in several objects (%s): say which with object:", pr.Name, strings.Join(names, ", "))
			return
		}
	}
	pr.Object = obj
	ps, ok := obj.Spec.Programs[pr.Name]
	if !ok {
		v.errorf(pr.At("program"), path+".program", "object %s has no program %q (programs: %s)", obj.Path, pr.Name, strings.Join(sortedKeys(obj.Spec.Programs), ", "))
		return
	}
	if pr.MapRef != "" {
		if pr.Attach == ebpf.AttachCGroupSockOps {
			v.errorf(pr.At("map"), path+".map", "sockops programs attach to the whole network, not to a map")
		}
		pr.Map = v.lookupMap(pr.MapRef, pr.At("map"), path+".map")
		if pr.Map != NoMap && !sc.MapDefs[pr.Map].IsSockMap() && !pr.ExpectRejected {
			v.errorf(pr.At("map"), path+".map", "map %s is a %s, not a sockmap or sockhash", sc.MapDefs[pr.Map].Name, sc.MapDefs[pr.Map].Spec.Type)
		}
	} else if pr.Attach != ebpf.AttachNone && pr.Attach != ebpf.AttachCGroupSockOps {
		v.errorf(pr.Pos, path, "attach: %s needs map:", AttachName(pr.Attach))
	}
	if !setup {
		// attach/detach steps use the programs: entry of the same program.
		return
	}
	spec := ps.Copy()
	if spec.Type == ebpf.UnspecifiedProgram {
		if pr.Attach == ebpf.AttachNone {
			v.errorf(pr.Pos, path, "program %q: section %q does not say its type: give attach:", pr.Name, ps.SectionName)
			return
		}
		spec.Type = loader.AttachProgramType(pr.Attach)
		spec.AttachType = pr.Attach
	} else if pr.Attach != ebpf.AttachNone && spec.Type != loader.AttachProgramType(pr.Attach) && !pr.ExpectRejected {
		v.errorf(pr.At("attach"), path+".attach", "program %q (section %q) is of type %s; attach: %s needs %s", pr.Name, ps.SectionName, spec.Type, AttachName(pr.Attach), loader.AttachProgramType(pr.Attach))
		return
	}
	pr.Spec = spec
}

// addresses collects every address the scenario names.
func (v *validator) addresses() {
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) {
		if a.IsValid() && !a.IsUnspecified() && !seen[a] {
			seen[a] = true
			v.sc.Addresses = append(v.sc.Addresses, a)
		}
	}
	for _, l := range v.sc.Listeners {
		add(l.Addr.Addr())
	}
	for _, c := range v.sc.Connections {
		add(c.Client.Addr())
		add(c.Server.Addr())
	}
	for _, s := range v.sc.Steps {
		if s.Kind == StepConnect {
			add(s.Client.Addr())
		}
	}
}

func (v *validator) socket(name string, pos Pos, path string, known map[string]Pos) {
	if name == "" {
		return
	}
	if _, ok := known[name]; !ok {
		names := sortedKeys(known)
		v.errorf(pos, path, "no socket %s at this point (sockets: %s)", quote(name), strings.Join(names, ", "))
	}
}

func (v *validator) step(s *Step, path string, known map[string]Pos) {
	sc := v.sc
	switch s.Kind {
	case StepSend, StepRecv, StepClose, StepFionread, StepShutdown, StepSockopt:
		v.socket(s.Socket, s.At("socket"), path+".socket", known)
	case StepStream:
		v.socket(s.StreamFrom, s.At("from"), path+".from", known)
		v.socket(s.StreamTo, s.At("to"), path+".to", known)
	case StepConnect:
		found := false
		for _, l := range sc.Listeners {
			found = found || l.Name == s.To
		}
		if !found {
			v.errorf(s.At("to"), path+".to", "no listener %q", s.To)
		}
		v.define(known, s.Name+".client", s.At("name"), path)
		v.define(known, s.Name+".server", s.At("name"), path)
		if s.Client.IsValid() {
			for _, l := range sc.Listeners {
				if l.Name == s.To && l.Addr.Addr().Is4() != s.Client.Addr().Is4() {
					v.errorf(s.At("client"), path+".client", "client %s and listener %s are of different address families", s.Client.Addr(), l.Addr.Addr())
				}
			}
		}
	case StepAttach, StepDetach:
		pr := s.Program
		v.resolveProgram(pr, path, false)
		if pr.Object == nil {
			return
		}
		var match *Program
		for _, p := range sc.Programs {
			if p.Object == pr.Object && p.Name == pr.Name {
				match = p
				break
			}
		}
		if match == nil {
			// A program of a loaded object that programs: does not
			// list: loaded by this step, typed by its section or, for a
			// section that says no type, by this step's attach kind.
			ps := pr.Object.Spec.Programs[pr.Name]
			spec := ps.Copy()
			if spec.Type == ebpf.UnspecifiedProgram {
				if pr.Attach == ebpf.AttachNone {
					v.errorf(s.At("program"), path+".program", "program %q: section %q does not say its type: give attach:", pr.Name, ps.SectionName)
					return
				}
				spec.Type = loader.AttachProgramType(pr.Attach)
				spec.AttachType = pr.Attach
			}
			match = &Program{Pos: s.Pos, ID: ProgID(len(sc.Programs)), Name: pr.Name, ObjectName: pr.ObjectName,
				Object: pr.Object, Map: NoMap, Spec: spec, OnDemand: true}
			sc.Programs = append(sc.Programs, match)
		}
		pr.ID, pr.Spec, pr.ExpectRejected = match.ID, match.Spec, match.ExpectRejected
		if pr.Attach == ebpf.AttachCGroupSockOps {
			pr.Map = NoMap
		}
	case StepEvents:
		v.validateEvents(s, path)
	case StepLookup, StepUpdate, StepDelete:
		s.Map = v.lookupMap(s.MapRef, s.At("map"), path+".map")
		if s.Map == NoMap {
			return
		}
		d := sc.MapDefs[s.Map]
		if s.Key.Bytes != nil && uint32(len(s.Key.Bytes)) != d.Spec.KeySize {
			v.errorf(s.Key.Pos, path+".key", "%q is %d bytes; map %s has %d-byte keys", s.Key.Text, len(s.Key.Bytes), d.Name, d.Spec.KeySize)
		}
		if d.IsEventMap() {
			v.errorf(s.At("map"), path+".map", "map %s is a %s: read its records with an events step", d.Name, d.Spec.Type)
		}
		if checked := v.validatePerCPU(s, d, path); !checked && s.Value != nil && s.Value.Bytes != nil {
			want := d.Spec.ValueSize
			what := "values"
			if s.Kind == StepLookup && d.IsSockMap() {
				want, what = 8, "cookies (looked up from user space)"
			}
			if uint32(len(s.Value.Bytes)) != want {
				v.errorf(s.Value.Pos, path+".value", "%q is %d bytes; map %s has %d-byte %s", s.Value.Text, len(s.Value.Bytes), d.Name, want, what)
			}
		}
		if (s.SockValue != "" || s.CookieOf != "") && !d.IsSockMap() {
			v.errorf(s.Pos, path, "map %s is a %s: socket values need a sockmap or sockhash", d.Name, d.Spec.Type)
		}
		v.socket(s.SockValue, s.At("socket"), path+".socket", known)
		v.socket(s.CookieOf, s.At("cookie_of"), path+".cookie_of", known)
	}
}
