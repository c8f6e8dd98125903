package decode

// Eisner returns the highest-scoring projective dependency tree with exactly
// one word attached to ROOT, by Eisner's first-order algorithm in O(n³)
// time and O(n²) space. Input, output, the handling of infinite and NaN
// scores and the errors are as for MST.
//
// The chart covers the words 1..n only; ROOT is attached at the end to the
// word r that maximises the ROOT arc plus r's best left and right spans,
// which makes the single-root constraint exact.
func Eisner(scores [][]float64) ([]int, error) {
	n, err := checkSquare(scores)
	if err != nil {
		return nil, err
	}
	heads := make([]int, n+1)
	heads[0] = -1
	if n == 0 {
		return heads, nil
	}
	conv := newConverter(2*(n+1), scores...)
	arc := func(h, d int) weight { return conv.weight(scores[d][h]) }

	// Spans are over words 1..n, stored at [i*size+j] for i ≤ j. A complete
	// span is headed at one end and has no pending dependents; an incomplete
	// one is an arc between its ends plus the words between them. "Left"
	// spans are headed at j, "right" spans at i. The split tables hold the
	// best split point for backtracking.
	size := n + 1
	var (
		completeL, completeR     = make([]weight, size*size), make([]weight, size*size)
		incompleteL, incompleteR = make([]weight, size*size), make([]weight, size*size)
		splitCL, splitCR         = make([]int, size*size), make([]int, size*size)
		splitI                   = make([]int, size*size) // shared: both incomplete spans split alike
	)
	for length := 1; length < n; length++ {
		for i := 1; i+length <= n; i++ {
			j := i + length
			ij := i*size + j

			// Incomplete: i's right half and j's left half meet between r and r+1.
			best, bestW := -1, weight{}
			for r := i; r < j; r++ {
				if x := completeR[i*size+r].add(completeL[(r+1)*size+j]); best < 0 || bestW.less(x) {
					best, bestW = r, x
				}
			}
			splitI[ij] = best
			incompleteL[ij] = bestW.add(arc(j, i))
			incompleteR[ij] = bestW.add(arc(i, j))

			// Complete, headed at j: an arc j → r with r's left span.
			best, bestW = -1, weight{}
			for r := i; r < j; r++ {
				if x := completeL[i*size+r].add(incompleteL[r*size+j]); best < 0 || bestW.less(x) {
					best, bestW = r, x
				}
			}
			splitCL[ij], completeL[ij] = best, bestW

			// Complete, headed at i: an arc i → r with r's right span.
			best, bestW = -1, weight{}
			for r := i + 1; r <= j; r++ {
				if x := incompleteR[i*size+r].add(completeR[r*size+j]); best < 0 || bestW.less(x) {
					best, bestW = r, x
				}
			}
			splitCR[ij], completeR[ij] = best, bestW
		}
	}

	root, rootW := -1, weight{}
	for r := 1; r <= n; r++ {
		x := arc(0, r).add(completeL[1*size+r]).add(completeR[r*size+n])
		if root < 0 || rootW.less(x) {
			root, rootW = r, x
		}
	}
	heads[root] = 0

	// Backtrack without recursion: each item is a span to expand.
	type span struct {
		i, j     int
		left     bool // headed at j
		complete bool
	}
	todo := []span{{1, root, true, true}, {root, n, false, true}}
	for len(todo) > 0 {
		s := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if s.i == s.j {
			continue
		}
		ij := s.i*size + s.j
		switch {
		case s.complete && s.left:
			r := splitCL[ij]
			todo = append(todo, span{s.i, r, true, true}, span{r, s.j, true, false})
		case s.complete:
			r := splitCR[ij]
			todo = append(todo, span{s.i, r, false, false}, span{r, s.j, false, true})
		default:
			if s.left {
				heads[s.i] = s.j
			} else {
				heads[s.j] = s.i
			}
			r := splitI[ij]
			todo = append(todo, span{s.i, r, false, true}, span{r + 1, s.j, true, true})
		}
	}
	return heads, nil
}
