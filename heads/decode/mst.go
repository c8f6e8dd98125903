package decode

// MST returns the highest-scoring dependency tree with exactly one word
// attached to ROOT, not necessarily projective (see the package comment for
// the input and output layout and for how infinite and NaN scores count).
// For a 1×1 matrix (no words) it returns [-1]. The only errors are for a
// matrix that is empty or not square.
//
// MST runs the Chu-Liu/Edmonds algorithm in O(n²) time. The single-root
// constraint is exact: every ROOT arc carries a penalty larger than any
// difference of scores (a separate, lexicographically first component of
// the arc weight, not a big float constant), so the maximum spanning
// arborescence uses as few ROOT arcs as possible, which is one, and among
// those trees it is the best.
func MST(scores [][]float64) ([]int, error) {
	n, err := checkSquare(scores)
	if err != nil {
		return nil, err
	}
	size := n + 1
	// A tree has n arcs; contraction compares differences of such sums.
	conv := newConverter(2*size, scores...)
	w := make([]weight, size*size) // w[d*size+h]: arc h → d
	for d := 1; d < size; d++ {
		for h := 0; h < size; h++ {
			w[d*size+h] = conv.weight(scores[d][h])
		}
		w[d*size].roots = -1
	}
	heads := chuLiuEdmonds(w, size)
	heads[0] = -1
	return heads, nil
}

// contraction records one cycle that chuLiuEdmonds contracted into the node
// rep, enough to expand it again.
type contraction struct {
	rep       int
	members   []int // the cycle's nodes, rep first
	cycleHead []int // cycleHead[i]: head of members[i] on the cycle
	enterAt   []int // enterAt[u]: the member entered by the best arc from u, or -1
	leaveFrom []int // leaveFrom[d]: the member of the best arc to d, or -1
}

// chuLiuEdmonds returns the maximum spanning arborescence rooted at node 0
// of the complete graph whose arc h → d weighs w[d*size+h]. It modifies w.
//
// Contracted cycles keep the index of one of their nodes (rep), so w never
// needs reallocating. Each node's best head is searched for once: after a
// contraction, a node whose best head was on the cycle has rep as its best
// head, the other nodes keep theirs, and only rep needs a new search. So
// the whole algorithm takes O(size²) time.
func chuLiuEdmonds(w []weight, size int) []int {
	active := make([]bool, size)
	for v := range active {
		active[v] = true
	}
	best := make([]int, size)
	best[0] = -1
	for d := 1; d < size; d++ {
		best[d] = bestHead(w, size, active, d)
	}
	var stack []contraction
	for {
		cycle := findCycle(best, active)
		if cycle == nil {
			break
		}
		stack = append(stack, contract(w, size, active, best, cycle))
	}
	// Undo the contractions, latest first: arcs out of a cycle go back to
	// the member they leave from, and the cycle keeps its arcs except the
	// one into the member where the arc from outside enters.
	heads := best
	for i := len(stack) - 1; i >= 0; i-- {
		c := &stack[i]
		from := heads[c.rep]
		for d, v := range c.leaveFrom {
			if v >= 0 && heads[d] == c.rep {
				heads[d] = v
			}
		}
		for j, v := range c.members {
			heads[v] = c.cycleHead[j]
		}
		heads[c.enterAt[from]] = from
	}
	return heads
}

// bestHead returns the active node h ≠ d with the heaviest arc h → d; ties go
// to the lowest index.
func bestHead(w []weight, size int, active []bool, d int) int {
	best := -1
	row := w[d*size : (d+1)*size]
	for h, wh := range row {
		if h != d && active[h] && (best < 0 || row[best].less(wh)) {
			best = h
		}
	}
	return best
}

// findCycle returns the nodes of a cycle among the active nodes' best arcs,
// or nil if they form a tree.
func findCycle(best []int, active []bool) []int {
	// walk[v] is the node whose walk first reached v, or 0 if none has.
	walk := make([]int, len(best))
	for start := 1; start < len(best); start++ {
		if !active[start] || walk[start] != 0 {
			continue
		}
		v := start
		for v > 0 && walk[v] == 0 {
			walk[v] = start
			v = best[v]
		}
		if v > 0 && walk[v] == start {
			cycle := []int{v}
			for u := best[v]; u != v; u = best[u] {
				cycle = append(cycle, u)
			}
			return cycle
		}
	}
	return nil
}

// contract merges cycle into its first node, rewriting that node's row and
// column of w with the best arcs into and out of the cycle, and returns the
// record needed to expand it.
func contract(w []weight, size int, active []bool, best, cycle []int) contraction {
	rep := cycle[0]
	c := contraction{
		rep:       rep,
		members:   cycle,
		cycleHead: make([]int, len(cycle)),
		enterAt:   make([]int, size),
		leaveFrom: make([]int, size),
	}
	inCycle := make([]bool, size)
	onCycle := make([]weight, len(cycle)) // weight of each member's cycle arc
	for i, v := range cycle {
		inCycle[v] = true
		c.cycleHead[i] = best[v]
		onCycle[i] = w[v*size+best[v]]
	}
	for u := 0; u < size; u++ {
		c.enterAt[u], c.leaveFrom[u] = -1, -1
		if !active[u] || inCycle[u] {
			continue
		}
		// Entering the cycle at v replaces v's cycle arc.
		enter, enterW := -1, weight{}
		for i, v := range cycle {
			if x := w[v*size+u].sub(onCycle[i]); enter < 0 || enterW.less(x) {
				enter, enterW = v, x
			}
		}
		c.enterAt[u] = enter
		w[rep*size+u] = enterW
		if u == 0 {
			continue // ROOT has no incoming arcs
		}
		leave, leaveW := -1, weight{}
		for _, v := range cycle {
			if x := w[u*size+v]; leave < 0 || leaveW.less(x) {
				leave, leaveW = v, x
			}
		}
		c.leaveFrom[u] = leave
		w[u*size+rep] = leaveW
		if inCycle[best[u]] {
			best[u] = rep
		}
	}
	for _, v := range cycle[1:] {
		active[v] = false
	}
	best[rep] = bestHead(w, size, active, rep)
	return c
}
