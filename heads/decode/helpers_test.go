package decode

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// randomScores returns an (n+1)×(n+1) score matrix. With odd set, about a
// fifth of the entries are -Inf or NaN and the rest small integers, so
// that many trees tie.
func randomScores(rng *rand.Rand, n int, odd bool) [][]float64 {
	s := newMatrix(n+1, n+1)
	for d := range s {
		for h := range s[d] {
			switch {
			case !odd:
				s[d][h] = rng.NormFloat64()
			case rng.IntN(10) == 0:
				s[d][h] = math.Inf(-1)
			case rng.IntN(10) == 0:
				s[d][h] = math.NaN()
			default:
				s[d][h] = float64(rng.IntN(3))
			}
		}
	}
	return s
}

var treesCache = struct {
	sync.Mutex
	byN map[int][][]int
}{byN: map[int][][]int{}}

// allTrees returns every head assignment over n words that IsTree accepts,
// by enumerating all (n+1)ⁿ assignments.
func allTrees(n int) [][]int {
	treesCache.Lock()
	defer treesCache.Unlock()
	if trees, ok := treesCache.byN[n]; ok {
		return trees
	}
	var trees [][]int
	heads := make([]int, n+1)
	heads[0] = -1
	var fill func(d int)
	fill = func(d int) {
		if d > n {
			if IsTree(heads) == nil {
				trees = append(trees, append([]int(nil), heads...))
			}
			return
		}
		for h := 0; h <= n; h++ {
			heads[d] = h
			fill(d + 1)
		}
	}
	fill(1)
	treesCache.byN[n] = trees
	return trees
}

// projectiveTrees returns every projective single-root tree over n words,
// built independently of IsTree: a tree over an interval is a head with a
// sequence of such trees on either side.
func projectiveTrees(n int) [][]int {
	if n == 0 {
		return [][]int{{-1}}
	}
	// forests(i, j) lists partial head assignments covering words i..j as a
	// sequence of subtrees, with the subtree roots' heads left at -1.
	var forests func(i, j int) [][]int
	var trees func(i, j int) [][]int
	forests = func(i, j int) [][]int {
		if i > j {
			return [][]int{make([]int, n+1)}
		}
		var out [][]int
		for k := i; k <= j; k++ { // the first subtree covers i..k
			for _, a := range trees(i, k) {
				for _, b := range forests(k+1, j) {
					out = append(out, merge(a, b, i, k, j))
				}
			}
		}
		return out
	}
	trees = func(i, j int) [][]int {
		var out [][]int
		for h := i; h <= j; h++ {
			for _, l := range forests(i, h-1) {
				for _, r := range forests(h+1, j) {
					t := make([]int, n+1)
					for v := i; v <= j; v++ {
						switch {
						case v < h:
							t[v] = orHead(l[v], h)
						case v > h:
							t[v] = orHead(r[v], h)
						default:
							t[v] = -1
						}
					}
					out = append(out, t)
				}
			}
		}
		return out
	}
	var out [][]int
	for _, t := range trees(1, n) {
		for v := range t {
			t[v] = orHead(t[v], 0)
		}
		t[0] = -1
		out = append(out, t)
	}
	return out
}

// merge joins partial assignments a (words i..k) and b (words k+1..j).
func merge(a, b []int, i, k, j int) []int {
	t := make([]int, len(a))
	copy(t[i:k+1], a[i:k+1])
	copy(t[k+1:j+1], b[k+1:j+1])
	return t
}

// orHead returns h for a subtree root (head -1), else head.
func orHead(head, h int) int {
	if head == -1 {
		return h
	}
	return head
}

// isProjective reports whether no arc of the tree heads crosses another:
// every word strictly between a head and its dependent descends from the
// head.
func isProjective(heads []int) bool {
	descends := func(v, h int) bool {
		for steps := 0; v > 0 && steps < len(heads); steps++ {
			v = heads[v]
			if v == h {
				return true
			}
		}
		return h == 0
	}
	for d := 1; d < len(heads); d++ {
		lo, hi := min(d, heads[d]), max(d, heads[d])
		for v := lo + 1; v < hi; v++ {
			if !descends(v, heads[d]) {
				return false
			}
		}
	}
	return true
}

// bestScore returns the highest Score of trees for scores.
func bestScore(scores [][]float64, trees [][]int) float64 {
	best := math.Inf(-1)
	for _, t := range trees {
		best = math.Max(best, Score(scores, t))
	}
	return best
}

// sameScore reports whether two tree scores agree up to rounding.
func sameScore(a, b float64) bool {
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-9*(1+math.Abs(b))
}

// checkTree fails t unless heads is a tree over n words with heads[0] = -1,
// and, if projective is set, a projective one.
func checkTree(t *testing.T, heads []int, n int, projective bool) {
	t.Helper()
	if len(heads) != n+1 || heads[0] != -1 {
		t.Fatalf("heads %v: want length %d and heads[0] = -1", heads, n+1)
	}
	if err := IsTree(heads); err != nil {
		t.Fatalf("heads %v: %v", heads, err)
	}
	if projective && !isProjective(heads) {
		t.Fatalf("heads %v are not projective", heads)
	}
}
