package decode

import (
	"fmt"
	"strings"
)

// Constraints says which label sequences Viterbi may return. A nil
// *Constraints allows every sequence.
type Constraints struct {
	Start []bool   // Start[j]: a sequence may begin with label j
	Trans [][]bool // Trans[i][j]: label j may directly follow label i
	End   []bool   // End[i]: a sequence may end with label i
}

// IOB2Constraints returns the constraints of the IOB2 scheme for labels,
// each "O", "B-TYPE" or "I-TYPE": I-TYPE may only follow B-TYPE or I-TYPE
// of the same type, so it cannot begin a sequence either.
func IOB2Constraints(labels []string) (*Constraints, error) {
	tags, err := parseTags(labels, "IOB2", "BI")
	if err != nil {
		return nil, err
	}
	c := newConstraints(len(tags))
	for j, b := range tags {
		c.Start[j] = b.prefix != 'I'
		c.End[j] = true
		for i, a := range tags {
			c.Trans[i][j] = b.prefix != 'I' || (a.prefix == 'B' || a.prefix == 'I') && a.typ == b.typ
		}
	}
	return c, nil
}

// IOBESConstraints returns the constraints of the IOBES (BIOES) scheme for
// labels, each "O" or one of "B-", "I-", "E-", "S-" followed by a type: an
// entity is either S-TYPE alone or B-TYPE, any number of I-TYPE, then
// E-TYPE, and entities cannot overlap.
func IOBESConstraints(labels []string) (*Constraints, error) {
	tags, err := parseTags(labels, "IOBES", "BIES")
	if err != nil {
		return nil, err
	}
	c := newConstraints(len(tags))
	for j, b := range tags {
		inside := b.prefix == 'I' || b.prefix == 'E' // continues an entity
		c.Start[j] = !inside
		c.End[j] = b.prefix != 'B' && b.prefix != 'I'
		for i, a := range tags {
			open := a.prefix == 'B' || a.prefix == 'I' // awaits its continuation
			if open {
				c.Trans[i][j] = inside && a.typ == b.typ
			} else {
				c.Trans[i][j] = !inside
			}
		}
	}
	return c, nil
}

// tag is a parsed label: its prefix letter ('O' for outside) and type.
type tag struct {
	prefix byte
	typ    string
}

// parseTags parses the labels of scheme, each "O" or a letter of prefixes,
// a hyphen and a type. It rejects duplicates, which would make the
// constraints ambiguous.
func parseTags(labels []string, scheme, prefixes string) ([]tag, error) {
	if len(labels) == 0 {
		return nil, fmt.Errorf("decode: no %s labels", scheme)
	}
	seen := make(map[string]int, len(labels))
	tags := make([]tag, len(labels))
	for i, label := range labels {
		if j, ok := seen[label]; ok {
			return nil, fmt.Errorf("decode: label %d %q repeats label %d", i, label, j)
		}
		seen[label] = i
		if label == "O" {
			tags[i] = tag{prefix: 'O'}
			continue
		}
		prefix, typ, ok := strings.Cut(label, "-")
		if !ok || len(prefix) != 1 || !strings.Contains(prefixes, prefix) || typ == "" {
			return nil, fmt.Errorf("decode: %s label %d %q: want O or PREFIX-TYPE with PREFIX one of %s", scheme, i, label, strings.Join(strings.Split(prefixes, ""), ", "))
		}
		tags[i] = tag{prefix: prefix[0], typ: typ}
	}
	return tags, nil
}

func newConstraints(k int) *Constraints {
	c := &Constraints{Start: make([]bool, k), Trans: make([][]bool, k), End: make([]bool, k)}
	for i := range c.Trans {
		c.Trans[i] = make([]bool, k)
	}
	return c
}

// check reports whether c fits k labels; a nil c always does.
func (c *Constraints) check(k int) error {
	if c == nil {
		return nil
	}
	if len(c.Start) != k || len(c.End) != k || len(c.Trans) != k {
		return fmt.Errorf("decode: constraints for %d start, %d end and %d transition rows, want %d labels", len(c.Start), len(c.End), len(c.Trans), k)
	}
	for i, row := range c.Trans {
		if len(row) != k {
			return fmt.Errorf("decode: constraint row %d has %d entries for %d labels", i, len(row), k)
		}
	}
	return nil
}

func (c *Constraints) allowsStart(j int) bool { return c == nil || c.Start[j] }
func (c *Constraints) allows(i, j int) bool   { return c == nil || c.Trans[i][j] }
func (c *Constraints) allowsEnd(j int) bool   { return c == nil || c.End[j] }
