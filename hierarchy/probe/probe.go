// Package probe computes the metrics of Hewitt and Manning's structural
// probe (2019, "A Structural Probe for Finding Syntax in Word
// Representations"), which compare the distances between the words of a
// sentence in some representation with their distances in its dependency
// tree: the undirected unlabeled attachment score (UUAS) of the minimum
// spanning tree of the predicted distances, and the distance Spearman
// correlation (DSpr).
//
// Words are numbered from 0 in sentence order. Dependency trees are given by
// their heads as in CoNLL-U's HEAD column: heads[i] is the 1-based number of
// word i's head, or 0 if word i is attached to the root.
package probe

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// TreeDistances returns the path lengths between the n = len(heads) words of
// the dependency tree given by heads: out[i][j] is the number of edges on
// the path between words i and j. The tree includes the root node, so if
// several words are attached to the root, the path between two of their
// subtrees goes through it (two edges), as in Hewitt and Manning's code.
//
// It returns an error if heads is not a tree: a head out of range, no word
// attached to the root, or a cycle.
func TreeDistances(heads []int) ([][]int, error) {
	n := len(heads)
	if err := checkTree(heads); err != nil {
		return nil, err
	}
	// Node 0 is the root and node i+1 is word i.
	adj := make([][]int, n+1)
	for i, h := range heads {
		adj[h] = append(adj[h], i+1)
		adj[i+1] = append(adj[i+1], h)
	}
	out := make([][]int, n)
	cells := make([]int, n*n)
	dist := make([]int, n+1)
	queue := make([]int, 0, n+1)
	for i := range out {
		out[i] = cells[i*n : (i+1)*n : (i+1)*n]
		// Breadth-first search from word i.
		for v := range dist {
			dist[v] = -1
		}
		dist[i+1] = 0
		queue = append(queue[:0], i+1)
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			for _, v := range adj[u] {
				if dist[v] < 0 {
					dist[v] = dist[u] + 1
					queue = append(queue, v)
				}
			}
		}
		copy(out[i], dist[1:])
	}
	return out, nil
}

// checkTree returns an error if heads is not a tree.
func checkTree(heads []int) error {
	n := len(heads)
	rooted := false
	for i, h := range heads {
		if h < 0 || h > n {
			return fmt.Errorf("probe: head %d of word %d out of range [0, %d]", h, i+1, n)
		}
		rooted = rooted || h == 0
	}
	if n > 0 && !rooted {
		return fmt.Errorf("probe: no word of %d is attached to the root", n)
	}
	// Follow the heads up from each word: a tree reaches the root without
	// meeting the path again.
	const (
		unseen = iota
		onPath
		reachesRoot
	)
	state := make([]uint8, n+1)
	state[0] = reachesRoot
	for i := 1; i <= n; i++ {
		v := i
		for state[v] == unseen {
			state[v] = onPath
			v = heads[v-1]
		}
		if state[v] == onPath {
			return fmt.Errorf("probe: the heads of word %d form a cycle", v)
		}
		for v := i; state[v] == onPath; v = heads[v-1] {
			state[v] = reachesRoot
		}
	}
	return nil
}

// MST returns the edges {i, j} (i < j) of a minimum spanning tree of the
// complete graph on n = len(dist) vertices where the edge between i and j
// has weight dist[i][j], sorted. It uses Prim's algorithm from vertex 0;
// ties go to the lowest vertex added next, then to the edge from the
// earliest vertex added, so the result is deterministic.
//
// dist must be n×n and symmetric; MST reads only the entries above the
// diagonal, and panics if a row's length is not n.
func MST(dist [][]float64) [][2]int {
	n := len(dist)
	for i, row := range dist {
		if len(row) != n {
			panic(fmt.Sprintf("probe: row %d of the distances has %d entries, want %d", i, len(row), n))
		}
	}
	d := func(i, j int) float64 {
		return dist[min(i, j)][max(i, j)]
	}
	edges := make([][2]int, 0, max(n-1, 0))
	if n == 0 {
		return edges
	}
	// key[v] is the weight of the lightest edge from the tree to vertex v
	// outside it, and from[v] the tree's end of that edge.
	in := make([]bool, n)
	key := make([]float64, n)
	from := make([]int, n)
	in[0] = true
	for v := 1; v < n; v++ {
		key[v] = d(0, v)
	}
	for range n - 1 {
		u := -1
		for v := range n {
			if !in[v] && (u < 0 || key[v] < key[u]) {
				u = v
			}
		}
		in[u] = true
		edges = append(edges, [2]int{min(u, from[u]), max(u, from[u])})
		for v := range n {
			if !in[v] && d(u, v) < key[v] {
				key[v], from[v] = d(u, v), u
			}
		}
	}
	slices.SortFunc(edges, func(a, b [2]int) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	return edges
}

// UUAS counts the undirected edges between words of the gold tree given by
// heads, the arcs from the root excluded, that edges contains: correct of
// the total gold edges (n−1 for n words under a single root). The order of
// an edge's words does not matter, and an edge listed twice counts once.
// The undirected unlabeled attachment score is correct/total summed over a
// corpus.
//
// UUAS panics if a head is out of range [0, len(heads)].
func UUAS(edges [][2]int, heads []int) (correct, total int) {
	found := make(map[[2]int]bool, len(edges))
	for _, e := range edges {
		found[[2]int{min(e[0], e[1]), max(e[0], e[1])}] = true
	}
	for i, h := range heads {
		if h < 0 || h > len(heads) {
			panic(fmt.Sprintf("probe: head %d of word %d out of range [0, %d]", h, i+1, len(heads)))
		}
		if h == 0 {
			continue
		}
		total++
		if found[[2]int{min(i, h-1), max(i, h-1)}] {
			correct++
		}
	}
	return correct, total
}

// Spearman returns Spearman's rank correlation of x and y: Pearson's
// correlation of their ranks, tied values sharing the average of their
// ranks. It is NaN when x or y contains NaN or has no variance (which
// includes fewer than two values). Spearman panics if x and y differ in
// length.
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) {
		panic(fmt.Sprintf("probe: Spearman of %d and %d values", len(x), len(y)))
	}
	if slices.ContainsFunc(x, math.IsNaN) || slices.ContainsFunc(y, math.IsNaN) {
		return math.NaN()
	}
	rx, ry := ranks(x), ranks(y)
	mean := float64(len(x)+1) / 2 // of the ranks 1..n, ties or not
	var sxy, sxx, syy float64
	for i := range rx {
		dx, dy := rx[i]-mean, ry[i]-mean
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ranks returns the ranks, from 1, of the values of x, tied values sharing
// the average of their ranks.
func ranks(x []float64) []float64 {
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return cmp.Compare(x[i], x[j]) })
	r := make([]float64, len(x))
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && x[order[hi]] == x[order[lo]] {
			hi++
		}
		// Ranks lo+1..hi, averaged.
		for _, i := range order[lo:hi] {
			r[i] = float64(lo+1+hi) / 2
		}
		lo = hi
	}
	return r
}

// The sentence lengths, in words, over which DSpr averages.
const (
	minLength = 5
	maxLength = 50
)

// DSpr accumulates Hewitt and Manning's distance Spearman correlation over
// sentences. For each word i of a sentence, it takes the Spearman
// correlation between the predicted distances from i to every other word
// and their gold tree distances; averages these over the words of the
// sentence, skipping the words whose correlation is undefined (NaN), then
// over the sentences of each length; and macro-averages the result over the
// sentence lengths 5 to 50. Sentences of other lengths are ignored, as are
// sentences none of whose words has a correlation.
//
// The zero DSpr holds no sentence and is ready to use.
type DSpr struct {
	sum       [maxLength - minLength + 1]float64 // by length: sum over sentences of their mean correlation
	count     [maxLength - minLength + 1]int     // by length: number of sentences
	sentences int
}

// Add adds a sentence of n = len(gold) words: pred[i][j] is the predicted
// distance between words i and j, and gold[i][j] their distance in the
// dependency tree (as computed by TreeDistances). Only the entries off the
// diagonal are read. Add panics if pred or a row of either is not of length n.
func (d *DSpr) Add(pred [][]float64, gold [][]int) {
	n := len(gold)
	if len(pred) != n {
		panic(fmt.Sprintf("probe: %d rows of predicted distances for %d words", len(pred), n))
	}
	for i := range n {
		if len(pred[i]) != n || len(gold[i]) != n {
			panic(fmt.Sprintf("probe: row %d of the distances has %d predicted and %d gold entries, want %d", i, len(pred[i]), len(gold[i]), n))
		}
	}
	if n < minLength || n > maxLength {
		return
	}
	x := make([]float64, 0, n-1)
	y := make([]float64, 0, n-1)
	var sum float64
	words := 0
	for i := range n {
		x, y = x[:0], y[:0]
		for j := range n {
			if j != i {
				x = append(x, pred[i][j])
				y = append(y, float64(gold[i][j]))
			}
		}
		if r := Spearman(x, y); !math.IsNaN(r) {
			sum += r
			words++
		}
	}
	if words == 0 {
		return
	}
	d.sum[n-minLength] += sum / float64(words)
	d.count[n-minLength]++
	d.sentences++
}

// Value returns the distance Spearman correlation of the sentences added,
// or NaN if none counted.
func (d *DSpr) Value() float64 {
	var sum float64
	lengths := 0
	for l, c := range d.count {
		if c > 0 {
			sum += d.sum[l] / float64(c)
			lengths++
		}
	}
	if lengths == 0 {
		return math.NaN()
	}
	return sum / float64(lengths)
}

// Sentences returns the number of sentences that count in Value: those of 5
// to 50 words with at least one word whose correlation is defined.
func (d *DSpr) Sentences() int {
	return d.sentences
}
