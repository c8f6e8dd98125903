// Package yamlstrict decodes hiertune's YAML job configurations strictly:
// every key must name a field (a renamed key's error gives its new name),
// an integer field takes only whole numbers, a float field only finite
// ones, and each error names the line it is on. Fields whose key is absent
// keep their values, so a struct filled with defaults before decoding keeps
// them and an explicit zero is not silently replaced.
//
// Fields are matched by their yaml tags (`yaml:"name"`; a field without a
// tag, or tagged "-", is not read). A field whose pointer type implements
// yaml.Unmarshaler decodes itself (and may call DecodeNode).
package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Renames maps an old key path (dotted from the top of the document, e.g.
// "eval.every") to its new path ("train.eval_every"), for the error that
// meets a configuration written for an earlier version.
type Renames map[string]string

// Decode decodes the YAML document data into v, a pointer to a struct.
func Decode(data []byte, v any, renamed Renames) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the configuration is empty")
		}
		return err
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return fmt.Errorf("line %d: a configuration is one YAML document", next.Line)
	}
	n := &doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	d := decoder{renamed: renamed}
	d.value(n, reflect.ValueOf(v).Elem(), "")
	return d.err()
}

// maxErrors is how many problems an error lists.
const maxErrors = 5

// err returns the problems found as one error, on one line.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	var msgs []string
	for _, e := range d.errs[:min(len(d.errs), maxErrors)] {
		msgs = append(msgs, e.Error())
	}
	if n := len(d.errs) - maxErrors; n > 0 {
		msgs = append(msgs, fmt.Sprintf("and %d more", n))
	}
	return errors.New(strings.Join(msgs, "; "))
}

// DecodeNode decodes the mapping node n into v, a pointer to a struct,
// field by field (so a type's UnmarshalYAML may call it on itself); where
// is the mapping's path in errors and in renamed ("general", "tasks[2]").
func DecodeNode(n *yaml.Node, v any, where string, renamed Renames) error {
	d := decoder{renamed: renamed}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.mapping(n, reflect.ValueOf(v).Elem(), where)
	return d.err()
}

// Keys returns the keys a struct type's fields are read from, sorted.
func Keys(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fields := map[string][]int{}
	collect(t, nil, fields)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Split divides the mapping node n into two mappings: the entries whose
// keys are in keys, and the others.
func Split(n *yaml.Node, keys []string) (in, out *yaml.Node, err error) {
	if n.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("line %d: want a mapping (key: value, ...)", n.Line)
	}
	in = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	out = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		dst := out
		if slices.Contains(keys, n.Content[i].Value) {
			dst = in
		}
		dst.Content = append(dst.Content, n.Content[i], n.Content[i+1])
	}
	return in, out, nil
}

// Merge returns the mapping node of several values encoded one after the
// other (structs, or nodes), for writing a configuration split by Split.
func Merge(vs ...any) (*yaml.Node, error) {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, v := range vs {
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return nil, err
		}
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("yamlstrict.Merge: %T does not encode as a mapping", v)
		}
		out.Content = append(out.Content, n.Content...)
	}
	return out, nil
}

// collect maps the keys of struct type t's fields to their indices, with
// the fields of structs embedded with the ",inline" tag as its own.
func collect(t reflect.Type, index []int, fields map[string][]int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		idx := append(slices.Clone(index), i)
		if tag := f.Tag.Get("yaml"); f.Anonymous && f.Type.Kind() == reflect.Struct && strings.HasSuffix(tag, ",inline") {
			collect(f.Type, idx, fields)
			continue
		}
		if k := key(f); k != "" {
			fields[k] = idx
		}
	}
}

func key(f reflect.StructField) string {
	tag, ok := f.Tag.Lookup("yaml")
	if !ok || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

type decoder struct {
	renamed Renames
	errs    []error
	// nodes counts the nodes decoded: aliases can make a small document
	// expand without bound ("billion laughs"), so the count is capped.
	nodes int
}

// maxNodes is the most nodes a configuration may expand to.
const maxNodes = 100_000

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errs = append(d.errs, fmt.Errorf("line %d: %s", n.Line, msg))
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

var unmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// value decodes n into v (addressable).
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, path, "the configuration expands to more than %d values (aliases?)", maxNodes)
		}
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // as if absent
	}
	if v.Kind() != reflect.Pointer && v.Addr().Type().Implements(unmarshaler) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.errs = append(d.errs, prefixed(path, n, err))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "want a mapping (key: value, ...)")
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			e := reflect.New(v.Type().Elem()).Elem()
			if old := v.MapIndex(reflect.ValueOf(k)); old.IsValid() {
				e.Set(old)
			}
			d.value(n.Content[i+1], e, join(path, k))
			v.SetMapIndex(reflect.ValueOf(k), e)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list")
			return
		}
		if len(n.Content) == 0 {
			v.SetZero() // an empty list is no list
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.value(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Array:
		if n.Kind != yaml.SequenceNode || len(n.Content) != v.Len() {
			d.fail(n, path, "want a list of %d", v.Len())
			return
		}
		for i, e := range n.Content {
			d.value(e, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.errs = append(d.errs, prefixed(path, n, err))
			return
		}
		v.Set(reflect.ValueOf(x))
	default:
		d.scalar(n, v, path)
	}
}

func prefixed(path string, n *yaml.Node, err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "line ") && !strings.HasPrefix(msg, "yaml: line ") {
		msg = fmt.Sprintf("line %d: %s", n.Line, msg)
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if path != "" && !strings.Contains(msg, path) {
		if line, rest, ok := strings.Cut(msg, ": "); ok {
			msg = line + ": " + path + ": " + rest
		}
	}
	return errors.New(msg)
}

// mapping decodes a mapping node into the struct v.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping (key: value, ...)")
		return
	}
	fields := map[string][]int{}
	collect(v.Type(), nil, fields)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k := kn.Value
		if seen[k] {
			d.fail(kn, path, "key %q is repeated", k)
			continue
		}
		seen[k] = true
		f, ok := fields[k]
		if !ok {
			d.unknown(kn, vn, path, k, fields)
			continue
		}
		d.value(vn, v.FieldByIndex(f), join(path, k))
	}
}

// unknown reports an unknown key: with its new name when it was renamed
// (for a renamed mapping, each key inside it), else with the keys there
// are.
func (d *decoder) unknown(kn, vn *yaml.Node, path, k string, fields map[string][]int) {
	full := join(path, k)
	if to, ok := d.renamed[full]; ok {
		d.fail(kn, "", "%s is now %s", full, to)
		return
	}
	var moved bool
	if vn.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(vn.Content); i += 2 {
			sub := join(full, vn.Content[i].Value)
			if to, ok := d.renamed[sub]; ok {
				d.fail(vn.Content[i], "", "%s is now %s", sub, to)
				moved = true
			}
		}
	}
	if moved {
		return
	}
	keys := make([]string, 0, len(fields))
	for f := range fields {
		keys = append(keys, f)
	}
	sort.Strings(keys)
	d.fail(kn, path, "unknown key %q (the keys here are %s)", k, strings.Join(keys, ", "))
}

// scalar decodes a scalar node into a string, bool, integer or float.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want a single value, not a %s", kindName(n.Kind))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "want true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		f, ok := number(n)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			d.fail(n, path, "want a whole number, got %q", n.Value)
			return
		}
		if v.OverflowInt(int64(f)) {
			d.fail(n, path, "%s is out of range", n.Value)
			return
		}
		v.SetInt(int64(f))
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		if n.Tag == "!!int" {
			if u, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil && !v.OverflowUint(u) {
				v.SetUint(u)
				return
			}
		}
		f, ok := number(n)
		if !ok || f != math.Trunc(f) || f < 0 || f > 1<<53 {
			d.fail(n, path, "want a whole number not below 0, got %q", n.Value)
			return
		}
		v.SetUint(uint64(f))
	case reflect.Float64, reflect.Float32:
		f, ok := number(n)
		if !ok {
			d.fail(n, path, "want a number, got %q", n.Value)
			return
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(n, path, "want a finite number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, path, "cannot read a %s", v.Type())
	}
}

// number parses an int or float scalar.
func number(n *yaml.Node) (float64, bool) {
	if n.Tag != "!!int" && n.Tag != "!!float" {
		return 0, false
	}
	var f float64
	if err := n.Decode(&f); err != nil {
		return 0, false
	}
	return f, true
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}
