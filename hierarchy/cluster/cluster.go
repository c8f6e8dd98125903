// Package cluster groups the tokens of a sentence by their hierarchy
// vectors: agglomerative clustering with average or Ward linkage, optionally
// constrained so that every cluster is a contiguous span of the sentence,
// and ToMe's bipartite soft matching.
//
// Items are numbered 0..n-1 in sentence order and their vectors are plain
// float32 slices; the arithmetic is done in float64. Ties are broken
// deterministically, so the same input always gives the same clustering.
package cluster

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Linkage is how the distance between two clusters is computed.
type Linkage string

const (
	// Average is the size-weighted mean of the Euclidean distances between
	// the members of the two clusters (UPGMA with item weights).
	Average Linkage = "average"
	// Ward is scipy's Ward linkage, sqrt(2·|A|·|B|/(|A|+|B|))·‖c_A − c_B‖,
	// where c is a cluster's size-weighted centroid and |A| its total size.
	Ward Linkage = "ward"
)

// Merge is one step of agglomerative clustering. Items are 0..n-1; the
// cluster made by step k has id n+k.
type Merge struct {
	A, B   int     // the two clusters joined (A < B)
	Height float64 // their linkage distance
	Size   float64 // total size (weight) of the new cluster
}

// Agglomerate clusters the n = len(points) items, points[i] being item i's
// vector, with weights sizes[i] (nil: all 1). It repeatedly joins the two
// closest clusters under link and returns the n−1 merges in order (none when
// n < 2).
//
// With adjacent, the items are taken to be in sequence order and only two
// clusters that are contiguous spans next to each other may join
// (connectivity-constrained clustering), so every cluster is a contiguous
// span. Heights may then decrease from one merge to the next.
//
// Among equally close pairs, the one with the lowest ids is joined first:
// the lowest smaller id, then the lowest larger id.
//
// Agglomerate panics if the points differ in length, if sizes is not nil and
// its length is not n, if a size is not positive and finite, or if link is
// not Average or Ward. The coordinates must be finite.
func Agglomerate(points [][]float32, sizes []float64, link Linkage, adjacent bool) []Merge {
	if link != Average && link != Ward {
		panic(fmt.Sprintf("cluster: unknown linkage %q", link))
	}
	n := len(points)
	if sizes != nil && len(sizes) != n {
		panic(fmt.Sprintf("cluster: %d sizes for %d points", len(sizes), n))
	}
	st := &state{
		n:    n,
		link: link,
		w:    make([]float64, n),
		id:   make([]int, n),
		live: make([]bool, n),
	}
	for i := range n {
		st.w[i] = 1
		if sizes != nil {
			if s := sizes[i]; !(s > 0) || math.IsInf(s, 1) {
				panic(fmt.Sprintf("cluster: size %v of item %d is not positive and finite", s, i))
			}
			st.w[i] = sizes[i]
		}
		st.id[i] = i
		st.live[i] = true
	}
	st.d = distances(points, st.w, link)
	if adjacent {
		return st.adjacent()
	}
	return st.unconstrained()
}

// distances returns the n×n matrix, flattened, of the linkage distances
// between the single items.
func distances(points [][]float32, w []float64, link Linkage) []float64 {
	n := len(points)
	d := make([]float64, n*n)
	for i := range n {
		if len(points[i]) != len(points[0]) {
			panic(fmt.Sprintf("cluster: point %d has %d dimensions, point 0 has %d", i, len(points[i]), len(points[0])))
		}
		for j := range i {
			var s float64
			for k, x := range points[i] {
				diff := float64(x) - float64(points[j][k])
				s += diff * diff
			}
			dij := math.Sqrt(s)
			if link == Ward {
				dij *= math.Sqrt(2 * w[i] * w[j] / (w[i] + w[j]))
			}
			d[i*n+j], d[j*n+i] = dij, dij
		}
	}
	return d
}

// state is a clustering in progress. Each cluster lives in a slot, the slot
// of one of its items; joining two clusters keeps the new one in the first
// cluster's slot and frees the second's.
type state struct {
	n    int
	link Linkage
	d    []float64 // d[s*n+t]: linkage distance between the clusters in slots s and t
	w    []float64 // w[s]: total size of the cluster in slot s
	id   []int     // id[s]: id of the cluster in slot s
	live []bool    // live[s]: slot s holds a cluster
}

// before reports whether the clusters in slots s and t are to be joined
// before those in slots u and v: they are closer, or as close with lower ids.
func (st *state) before(s, t, u, v int) bool {
	if d1, d2 := st.d[s*st.n+t], st.d[u*st.n+v]; d1 != d2 {
		return d1 < d2
	}
	a1, b1 := minMax(st.id[s], st.id[t])
	a2, b2 := minMax(st.id[u], st.id[v])
	if a1 != a2 {
		return a1 < a2
	}
	return b1 < b2
}

func minMax(a, b int) (int, int) {
	return min(a, b), max(a, b)
}

// join joins the cluster in slot t into the one in slot s, giving the new
// cluster the given id, updates the distances to the other clusters by the
// Lance–Williams formula of the linkage, and returns the merge.
func (st *state) join(s, t, id int) Merge {
	n := st.n
	ws, wt := st.w[s], st.w[t]
	dst := st.d[s*n+t]
	for u := range n {
		if !st.live[u] || u == s || u == t {
			continue
		}
		dsu, dtu := st.d[s*n+u], st.d[t*n+u]
		var x float64
		switch st.link {
		case Average:
			x = (ws*dsu + wt*dtu) / (ws + wt)
		case Ward:
			wu := st.w[u]
			// Rounding can make the squared distance slightly negative.
			x = math.Sqrt(max(0, ((ws+wu)*dsu*dsu+(wt+wu)*dtu*dtu-wu*dst*dst)/(ws+wt+wu)))
		}
		st.d[s*n+u], st.d[u*n+s] = x, x
	}
	a, b := minMax(st.id[s], st.id[t])
	st.w[s] = ws + wt
	st.id[s] = id
	st.live[t] = false
	return Merge{A: a, B: b, Height: dst, Size: ws + wt}
}

// adjacent clusters with the contiguity constraint. Only the pairs of
// neighbouring spans are candidates, so finding the closest is a walk along
// the spans.
func (st *state) adjacent() []Merge {
	n := st.n
	merges := make([]Merge, 0, max(n-1, 0))
	if n < 2 {
		return merges
	}
	// next[s] is the slot of the span right of the one in slot s, or -1.
	// The new cluster keeps the left span's slot, so slot 0 stays the first.
	next := make([]int, n)
	for s := range n {
		next[s] = s + 1
	}
	next[n-1] = -1
	for len(merges) < n-1 {
		best := 0
		for s := next[0]; next[s] >= 0; s = next[s] {
			if st.before(s, next[s], best, next[best]) {
				best = s
			}
		}
		t := next[best]
		merges = append(merges, st.join(best, t, n+len(merges)))
		next[best] = next[t]
	}
	return merges
}

// unconstrained clusters without constraint. To avoid scanning every pair at
// each step, it keeps the nearest neighbour of each cluster among those of
// higher id (nn[s], a slot, or -1 if there is none), as in Müllner's generic
// algorithm; a row is rescanned only when its neighbour is joined.
func (st *state) unconstrained() []Merge {
	n := st.n
	merges := make([]Merge, 0, max(n-1, 0))
	nn := make([]int, n)
	for s := range n {
		st.nearest(s, nn)
	}
	for len(merges) < n-1 {
		best := -1
		for s := range n {
			if st.live[s] && nn[s] >= 0 && (best < 0 || st.before(s, nn[s], best, nn[best])) {
				best = s
			}
		}
		s, t := best, nn[best]
		merges = append(merges, st.join(s, t, n+len(merges)))
		// The new cluster has the highest id, so it has no neighbour of
		// higher id and is a candidate neighbour for every other cluster.
		nn[s] = -1
		for u := range n {
			switch {
			case !st.live[u] || u == s:
			case nn[u] == s || nn[u] == t:
				st.nearest(u, nn)
			case nn[u] < 0 || st.before(u, s, u, nn[u]):
				nn[u] = s
			}
		}
	}
	return merges
}

// nearest sets nn[u] to the slot of the cluster of higher id nearest to the
// one in slot u, or -1 if there is none.
func (st *state) nearest(u int, nn []int) {
	nn[u] = -1
	for t := range st.n {
		if st.live[t] && st.id[t] > st.id[u] && (nn[u] < 0 || st.before(u, t, u, nn[u])) {
			nn[u] = t
		}
	}
}

// Labels applies the first n−k merges, leaving k clusters, and returns each
// item's cluster label. The labels are numbered from 0 in order of each
// cluster's first (lowest-index) item.
//
// Labels panics unless 1 ≤ k ≤ n (or k = 0 when n = 0), if there are fewer
// than n−k merges, or if a merge applied does not join two distinct
// clusters that exist and have not been joined yet.
func Labels(n int, merges []Merge, k int) []int {
	if k > n || k < 1 && n > 0 || n-k > len(merges) {
		panic(fmt.Sprintf("cluster: cannot cut %d items into %d clusters with %d merges", n, k, len(merges)))
	}
	return label(n, merges[:n-k])
}

// LabelsBelow applies the merges in order up to, not including, the first
// whose Height exceeds threshold, and returns the labels as Labels does. It
// panics if a merge applied is invalid, as Labels does.
func LabelsBelow(n int, merges []Merge, threshold float64) []int {
	m := 0
	for m < len(merges) && merges[m].Height <= threshold {
		m++
	}
	return label(n, merges[:m])
}

// label applies all of merges to n items and returns the labels.
func label(n int, merges []Merge) []int {
	// parent[c] is the id of the cluster that cluster c joined, or -1.
	parent := make([]int, n+len(merges))
	for c := range parent {
		parent[c] = -1
	}
	for k, m := range merges {
		id := n + k
		if m.A == m.B || m.A < 0 || m.B < 0 || m.A >= id || m.B >= id || parent[m.A] >= 0 || parent[m.B] >= 0 {
			panic(fmt.Sprintf("cluster: merge %d (%d, %d) of %d items is invalid", k, m.A, m.B, n))
		}
		parent[m.A], parent[m.B] = id, id
	}
	// A parent's id is higher than its children's, so going down the ids
	// finds each cluster's root after its parent's.
	root := parent
	for c := len(root) - 1; c >= 0; c-- {
		if root[c] < 0 {
			root[c] = c
		} else {
			root[c] = root[root[c]]
		}
	}
	return number(root[:n])
}

// number renumbers the cluster ids of the items, 0 upwards in order of each
// cluster's first item.
func number(ids []int) []int {
	labels := make([]int, len(ids))
	seen := make(map[int]int)
	for i, c := range ids {
		l, ok := seen[c]
		if !ok {
			l = len(seen)
			seen[c] = l
		}
		labels[i] = l
	}
	return labels
}

// Bipartite is ToMe's bipartite soft matching (Bolya et al. 2023, "Token
// Merging: Your ViT But Faster"). The items that are not protected are split
// alternately, in order, into a set A (the 1st, 3rd, ...) and a set B (the
// 2nd, 4th, ...); each item of A is matched with its most similar item of B
// by the cosine similarity of their keys (the first on ties); and the r
// matches of highest similarity (the earliest on ties) are merged, the item
// of A joining its item of B's cluster. Several items of A may join the same
// item of B. r is capped at |A| (and at 0 when B is empty). A zero key has
// similarity 0 with every key. Protected items are never merged; protect may
// be nil, protecting none.
//
// Bipartite returns each item's cluster label, numbered as by Labels. It
// panics if r is negative, if protect is not nil and its length is not
// len(keys), or if the keys differ in length.
func Bipartite(keys [][]float32, r int, protect []bool) []int {
	n := len(keys)
	if r < 0 {
		panic(fmt.Sprintf("cluster: negative r %d", r))
	}
	if protect != nil && len(protect) != n {
		panic(fmt.Sprintf("cluster: %d protect flags for %d keys", len(protect), n))
	}
	var setA, setB []int
	for i := range n {
		switch {
		case protect != nil && protect[i]:
		case len(setA) == len(setB):
			setA = append(setA, i)
		default:
			setB = append(setB, i)
		}
	}
	norm := make([]float64, n)
	for i, k := range keys {
		if len(k) != len(keys[0]) {
			panic(fmt.Sprintf("cluster: key %d has %d dimensions, key 0 has %d", i, len(k), len(keys[0])))
		}
		norm[i] = math.Sqrt(dot(k, k))
	}
	cosine := func(i, j int) float64 {
		if norm[i] == 0 || norm[j] == 0 {
			return 0
		}
		return dot(keys[i], keys[j]) / (norm[i] * norm[j])
	}

	type match struct {
		a, b int
		sim  float64
	}
	var matches []match
	if len(setB) > 0 {
		matches = make([]match, len(setA))
		for x, a := range setA {
			m := match{a: a, b: setB[0], sim: cosine(a, setB[0])}
			for _, b := range setB[1:] {
				if s := cosine(a, b); s > m.sim {
					m.b, m.sim = b, s
				}
			}
			matches[x] = m
		}
	}
	slices.SortStableFunc(matches, func(x, y match) int { return cmp.Compare(y.sim, x.sim) })

	root := make([]int, n)
	for i := range root {
		root[i] = i
	}
	for _, m := range matches[:min(r, len(matches))] {
		root[m.a] = m.b
	}
	return number(root)
}

func dot(x, y []float32) float64 {
	var s float64
	for i, v := range x {
		s += float64(v) * float64(y[i])
	}
	return s
}
