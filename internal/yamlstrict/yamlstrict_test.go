package yamlstrict

import (
	"strings"
	"testing"
)

type inner struct {
	N int     `yaml:"n"`
	F float64 `yaml:"f"`
}

type doc struct {
	Name  string           `yaml:"name"`
	Count int              `yaml:"count"`
	Seed  uint64           `yaml:"seed"`
	On    bool             `yaml:"on"`
	In    inner            `yaml:"in"`
	List  []inner          `yaml:"list"`
	Map   map[string]inner `yaml:"map"`
	Ptr   *float64         `yaml:"ptr"`
}

// TestDecode checks values, defaults kept for absent keys, and the errors
// of unknown, renamed, repeated and ill-typed keys, each naming its line.
func TestDecode(t *testing.T) {
	d := doc{Count: 7}
	err := Decode([]byte("name: a\nseed: 18446744073709551615\non: true\nin: {n: 2.0, f: 1e-3}\nlist: [{n: 1}]\nmap: {x: {f: 2}}\nptr: 0.5\n"), &d, nil)
	if err != nil || d.Count != 7 || d.Seed != 1<<64-1 || d.In.N != 2 || d.List[0].N != 1 || d.Map["x"].F != 2 || *d.Ptr != 0.5 {
		t.Fatalf("%+v, %v", d, err)
	}
	for text, want := range map[string]string{
		"nmae: a\n":              `line 1: unknown key "nmae" (the keys here are count, in, list, map, name, on, ptr, seed)`,
		"old: {x: 1}\n":          "line 1: old.x is now name",
		"count: 1\ncount: 2\n":   `line 2: key "count" is repeated`,
		"count: 1.5\n":           `line 1: count: want a whole number, got "1.5"`,
		"in: {f: .nan}\n":        `line 1: in.f: want a finite number, got ".nan"`,
		"in: {n: 1e30}\n":        "in.n: want a whole number",
		"on: 1\n":                `line 1: on: want true or false, got "1"`,
		"seed: -1\n":             "seed: want a whole number not below 0",
		"list: {n: 1}\n":         "line 1: list: want a list",
		"count: [1]\n":           "count: want a single value, not a list",
		"a: 1\n---\nb: 2\n":      "a configuration is one YAML document",
		"":                       "the configuration is empty",
		"in: {n: 1, f: x}\nq: 1": `line 1: in.f: want a number, got "x"`,
	} {
		var d doc
		err := Decode([]byte(text), &d, Renames{"old.x": "name"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

// TestAliasesAreCapped checks that a document whose aliases expand
// without bound is refused quickly.
func TestAliasesAreCapped(t *testing.T) {
	text := "a: &a [{n: 1}, {n: 1}, {n: 1}, {n: 1}, {n: 1}, {n: 1}, {n: 1}, {n: 1}, {n: 1}, {n: 1}]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g"} {
		text += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	var v struct {
		A []inner             `yaml:"a"`
		B [][]inner           `yaml:"b"`
		C [][][]inner         `yaml:"c"`
		D [][][][]inner       `yaml:"d"`
		E [][][][][]inner     `yaml:"e"`
		F [][][][][][]inner   `yaml:"f"`
		G [][][][][][][]inner `yaml:"g"`
	}
	if err := Decode([]byte(text), &v, nil); err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Errorf("got %v", err)
	}
}
