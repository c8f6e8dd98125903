package conllu

import (
	"fmt"
	"strconv"
	"strings"
)

// IsTree reports whether heads (the head of word i+1 at index i, 0 for the
// root) form a dependency tree: every head in 0..n, exactly one word
// attached to the root, and no cycle. The error names the first problem
// found: a missing or out-of-range head, no or several roots, or a cycle
// (listing its words).
func IsTree(heads []int) error {
	n := len(heads)
	root := 0
	for i, h := range heads {
		switch {
		case h == NoHead:
			return fmt.Errorf("word %d has no head", i+1)
		case h < 0 || h > n:
			return fmt.Errorf("head %d of word %d is out of range 0..%d", h, i+1, n)
		case h == 0 && root != 0:
			return fmt.Errorf("several roots: words %d and %d are attached to 0", root, i+1)
		case h == 0:
			root = i + 1
		}
	}
	if root == 0 {
		return fmt.Errorf("no root: no word is attached to 0")
	}
	// state[w] is 0 for a word not seen yet, 1 for one on the path being
	// followed and 2 for one known to reach the root.
	state := make([]uint8, n+1)
	state[0] = 2
	for w := 1; w <= n; w++ {
		var path []int
		for v := w; state[v] != 2; v = heads[v-1] {
			if state[v] == 1 {
				return fmt.Errorf("cycle: %s", cycle(heads, v))
			}
			state[v] = 1
			path = append(path, v)
		}
		for _, v := range path {
			state[v] = 2
		}
	}
	return nil
}

// cycle formats the cycle of heads through word w as "3 -> 5 -> 3".
func cycle(heads []int, w int) string {
	ids := []string{strconv.Itoa(w)}
	for v := heads[w-1]; ; v = heads[v-1] {
		ids = append(ids, strconv.Itoa(v))
		if v == w {
			return strings.Join(ids, " -> ")
		}
	}
}

// Validate reports whether the basic dependencies of s form a tree (see
// IsTree); the error names the sentence by its line and sent_id.
func Validate(s *Sentence) error {
	if err := IsTree(s.Heads()); err != nil {
		id, _ := s.Meta("sent_id")
		return fmt.Errorf("sentence at line %d (sent_id %q): %w", s.Line, id, err)
	}
	return nil
}
