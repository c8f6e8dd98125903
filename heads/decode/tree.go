package decode

import (
	"errors"
	"fmt"
	"math"
)

// Errors that IsTree wraps, for use with errors.Is.
var (
	ErrHeadRange     = errors.New("head out of range")
	ErrNoRoot        = errors.New("no word attached to ROOT")
	ErrMultipleRoots = errors.New("more than one word attached to ROOT")
	ErrCycle         = errors.New("cycle")
)

// IsTree reports whether heads is a dependency tree over words 1..n, where
// n = len(heads)-1: heads[0] is -1 or 0 (ROOT has no head), every word's
// head is in [0, n], exactly one word is attached to ROOT, and every word
// reaches ROOT. The result wraps ErrHeadRange, ErrNoRoot, ErrMultipleRoots
// or ErrCycle; an empty slice, which lacks the ROOT entry, is an error too.
func IsTree(heads []int) error {
	if len(heads) == 0 {
		return errors.New("decode: empty heads: want at least the ROOT entry")
	}
	if heads[0] != -1 && heads[0] != 0 {
		return fmt.Errorf("decode: heads[0] = %d: %w (ROOT's entry must be -1 or 0)", heads[0], ErrHeadRange)
	}
	n := len(heads) - 1
	rootChild := 0
	for d := 1; d <= n; d++ {
		h := heads[d]
		if h < 0 || h > n {
			return fmt.Errorf("decode: word %d has head %d: %w [0, %d]", d, h, ErrHeadRange, n)
		}
		if h == 0 {
			if rootChild != 0 {
				return fmt.Errorf("decode: words %d and %d: %w", rootChild, d, ErrMultipleRoots)
			}
			rootChild = d
		}
	}
	if n > 0 && rootChild == 0 {
		return fmt.Errorf("decode: %w", ErrNoRoot)
	}
	// state: 0 unvisited, 1 on the current walk, 2 known to reach ROOT.
	state := make([]uint8, n+1)
	state[0] = 2
	for d := 1; d <= n; d++ {
		v := d
		for state[v] == 0 {
			state[v] = 1
			v = heads[v]
		}
		if state[v] == 1 {
			return fmt.Errorf("decode: word %d: %w", v, ErrCycle)
		}
		for v = d; state[v] == 1; v = heads[v] {
			state[v] = 2
		}
	}
	return nil
}

// Score returns the sum of scores[d][heads[d]] over the words d = 1..n,
// counting NaN scores as -Inf. It returns NaN if heads does not fit scores:
// a length other than len(scores), a head out of range or a short row.
func Score(scores [][]float64, heads []int) float64 {
	if len(heads) != len(scores) {
		return math.NaN()
	}
	sum := 0.0
	for d := 1; d < len(heads); d++ {
		h := heads[d]
		if h < 0 || h >= len(scores[d]) {
			return math.NaN()
		}
		s := scores[d][h]
		if math.IsNaN(s) {
			s = math.Inf(-1)
		}
		sum += s
	}
	return sum
}

// Greedy returns, for each word, its best-scoring head other than itself
// (ties go to the lowest index). The result need not be a tree.
func Greedy(scores [][]float64) ([]int, error) {
	n, err := checkSquare(scores)
	if err != nil {
		return nil, err
	}
	conv := converter{scale: 1} // single scores are compared, never summed
	heads := make([]int, n+1)
	heads[0] = -1
	for d := 1; d <= n; d++ {
		best, bestW := -1, weight{}
		for h := 0; h <= n; h++ {
			if h == d {
				continue
			}
			if w := conv.weight(scores[d][h]); best < 0 || bestW.less(w) {
				best, bestW = h, w
			}
		}
		heads[d] = best
	}
	return heads, nil
}

// checkSquare returns the number of words n of an (n+1)×(n+1) score matrix.
func checkSquare(scores [][]float64) (int, error) {
	if len(scores) == 0 {
		return 0, errors.New("decode: empty score matrix: want at least the ROOT row")
	}
	for i, row := range scores {
		if len(row) != len(scores) {
			return 0, fmt.Errorf("decode: score matrix row %d has %d columns, want %d", i, len(row), len(scores))
		}
	}
	return len(scores) - 1, nil
}
