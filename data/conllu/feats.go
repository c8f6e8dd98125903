package conllu

import (
	"fmt"
	"slices"
	"strings"
)

// A Feature is one Name=Value pair of a FEATS column. Value may hold several
// values separated by commas, as in "PronType=Int,Rel".
type Feature struct {
	Name, Value string
}

// Feats is a parsed FEATS column: features sorted by name as UD requires
// (alphabetically, ignoring case), each with its values sorted the same way.
type Feats []Feature

// ParseFeats parses a FEATS column such as "Case=Nom|Number=Sing" into sorted
// features; "_" gives none. Each feature must be Name=Value with a non-empty
// name and a value of non-empty, comma-separated parts; a name or a value
// part may not repeat.
func ParseFeats(s string) (Feats, error) {
	if s == "_" {
		return nil, nil
	}
	var fs Feats
	for _, pair := range strings.Split(s, "|") {
		name, value, ok := strings.Cut(pair, "=")
		if !ok || name == "" || strings.ContainsAny(name, ",") || strings.Contains(value, "=") {
			return nil, fmt.Errorf("FEATS %q: malformed feature %q (want Name=Value)", s, pair)
		}
		values := strings.Split(value, ",")
		for _, v := range values {
			if v == "" {
				return nil, fmt.Errorf("FEATS %q: feature %q has an empty value", s, pair)
			}
		}
		slices.SortFunc(values, compareFold)
		if i := duplicate(values); i >= 0 {
			return nil, fmt.Errorf("FEATS %q: feature %s has value %q twice", s, name, values[i])
		}
		fs = append(fs, Feature{Name: name, Value: strings.Join(values, ",")})
	}
	slices.SortFunc(fs, func(a, b Feature) int { return compareFold(a.Name, b.Name) })
	for i := 1; i < len(fs); i++ {
		if fs[i].Name == fs[i-1].Name {
			return nil, fmt.Errorf("FEATS %q: feature %s appears twice", s, fs[i].Name)
		}
	}
	return fs, nil
}

// String returns the canonical FEATS column of f: "Name=Value" pairs joined by
// "|", or "_" when f is empty. For f from ParseFeats it is sorted as UD
// requires.
func (f Feats) String() string {
	if len(f) == 0 {
		return "_"
	}
	pairs := make([]string, len(f))
	for i, ft := range f {
		pairs[i] = ft.Name + "=" + ft.Value
	}
	return strings.Join(pairs, "|")
}

// Get returns the value of the feature name, and whether f has it.
func (f Feats) Get(name string) (string, bool) {
	for _, ft := range f {
		if ft.Name == name {
			return ft.Value, true
		}
	}
	return "", false
}

// CanonicalFeats returns the canonical form of a FEATS column (see
// ParseFeats and Feats.String), so that equal feature sets compare equal as
// strings.
func CanonicalFeats(s string) (string, error) {
	f, err := ParseFeats(s)
	if err != nil {
		return "", err
	}
	return f.String(), nil
}

// compareFold orders strings alphabetically ignoring case, as UD sorts
// features ("Number" before "NumType"), then by bytes so that the order is
// total.
func compareFold(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// duplicate returns the index of the first element of the sorted values
// that equals the one before it, or -1.
func duplicate(values []string) int {
	for i := 1; i < len(values); i++ {
		if values[i] == values[i-1] {
			return i
		}
	}
	return -1
}
