package decode

import (
	"errors"
	"fmt"
	"math"
)

// Viterbi returns the highest-scoring label sequence among those allowed by
// c (nil allows every sequence). Scores are ranked like trees (see the
// package comment): NaN counts as -Inf, and a sequence avoiding -Inf scores
// beats any that uses them. Constraints, unlike -Inf scores, are never
// broken: if no sequence of length n satisfies c, Viterbi returns an error.
func Viterbi(emissions, trans [][]float64, start, end []float64, c *Constraints) ([]int, error) {
	n, k, err := checkCRF(emissions, trans, start, end)
	if err != nil {
		return nil, err
	}
	if err := c.check(k); err != nil {
		return nil, err
	}
	labels := make([]int, n)
	if n == 0 {
		return labels, nil
	}
	rows := append([][]float64{start, end}, trans...)
	conv := newConverter(2*n+1, append(rows, emissions...)...)

	// back[t*k+j] is the best predecessor of label j at position t, or -1
	// if no allowed sequence reaches j at t. Position 0 has no predecessor:
	// back holds 0 there for the labels allowed to start.
	back := make([]int, n*k)
	prev, cur := make([]weight, k), make([]weight, k)
	for j := 0; j < k; j++ {
		back[j] = -1
		if c.allowsStart(j) {
			back[j] = 0
			prev[j] = conv.weight(start[j]).add(conv.weight(emissions[0][j]))
		}
	}
	for t := 1; t < n; t++ {
		for j := 0; j < k; j++ {
			best, bestW := -1, weight{}
			for i := 0; i < k; i++ {
				if back[(t-1)*k+i] < 0 || !c.allows(i, j) {
					continue
				}
				if x := prev[i].add(conv.weight(trans[i][j])); best < 0 || bestW.less(x) {
					best, bestW = i, x
				}
			}
			back[t*k+j] = best
			if best >= 0 {
				cur[j] = bestW.add(conv.weight(emissions[t][j]))
			}
		}
		prev, cur = cur, prev
	}
	last, lastW := -1, weight{}
	for j := 0; j < k; j++ {
		if back[(n-1)*k+j] < 0 || !c.allowsEnd(j) {
			continue
		}
		if x := prev[j].add(conv.weight(end[j])); last < 0 || lastW.less(x) {
			last, lastW = j, x
		}
	}
	if last < 0 {
		return nil, fmt.Errorf("decode: no label sequence of length %d satisfies the constraints", n)
	}
	labels[n-1] = last
	for t := n - 1; t > 0; t-- {
		labels[t-1] = back[t*k+labels[t]]
	}
	return labels, nil
}

// LogPartition returns the log of the sum of exp(score) over all label
// sequences (the forward algorithm, computed with log-sum-exp). Scores may
// be -Inf, which rules out the sequences that use them; NaN and +Inf are
// errors, as for CRFNLL.
func LogPartition(emissions, trans [][]float64, start, end []float64) (float64, error) {
	n, _, err := checkCRF(emissions, trans, start, end)
	if err != nil {
		return 0, err
	}
	if err := checkTrainable(emissions, trans, start, end); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	alpha := forward(emissions, trans, start)
	return logSumExpPlus(alpha[n-1], end), nil
}

// CRFNLL returns the CRF's negative log-likelihood of the gold labels,
// log Z − score(gold), and its gradient with respect to each parameter:
// marginal probabilities (from the forward-backward algorithm) minus gold
// counts. Scores may be -Inf, so a trainer can forbid transitions by
// setting them to -Inf (their gradient is then 0). It is an error for a
// score to be NaN or +Inf, for gold to have the wrong length or a label out
// of range, or for the gold sequence to have score -Inf.
func CRFNLL(emissions [][]float64, gold []int, trans [][]float64, start, end []float64) (nll float64, dEmis, dTrans [][]float64, dStart, dEnd []float64, err error) {
	n, k, err := checkCRF(emissions, trans, start, end)
	if err != nil {
		return 0, nil, nil, nil, nil, err
	}
	if err := checkTrainable(emissions, trans, start, end); err != nil {
		return 0, nil, nil, nil, nil, err
	}
	goldScore, err := sequenceScore(emissions, gold, trans, start, end)
	if err != nil {
		return 0, nil, nil, nil, nil, err
	}
	dEmis, dTrans = newMatrix(n, k), newMatrix(k, k)
	dStart, dEnd = make([]float64, k), make([]float64, k)
	if n == 0 {
		return 0, dEmis, dTrans, dStart, dEnd, nil
	}

	alpha := forward(emissions, trans, start)
	logZ := logSumExpPlus(alpha[n-1], end)
	if math.IsInf(logZ, 1) || math.IsInf(goldScore, 1) {
		return 0, nil, nil, nil, nil, errors.New("decode: CRF scores overflow float64")
	}
	// beta[t][i]: log-sum of the scores of everything after label i at t.
	beta := newMatrix(n, k)
	copy(beta[n-1], end)
	next := make([]float64, k)
	for t := n - 2; t >= 0; t-- {
		for j := range next {
			next[j] = emissions[t+1][j] + beta[t+1][j]
		}
		for i := range beta[t] {
			beta[t][i] = logSumExpPlus(trans[i], next)
		}
	}

	for t := 0; t < n; t++ {
		for j := 0; j < k; j++ {
			dEmis[t][j] = math.Exp(alpha[t][j] + beta[t][j] - logZ)
			if t > 0 {
				for i := 0; i < k; i++ {
					dTrans[i][j] += math.Exp(alpha[t-1][i] + trans[i][j] + emissions[t][j] + beta[t][j] - logZ)
				}
			}
		}
	}
	copy(dStart, dEmis[0])
	copy(dEnd, dEmis[n-1])
	for t, y := range gold {
		dEmis[t][y]--
		if t > 0 {
			dTrans[gold[t-1]][y]--
		}
	}
	dStart[gold[0]]--
	dEnd[gold[n-1]]--
	return logZ - goldScore, dEmis, dTrans, dStart, dEnd, nil
}

// forward returns alpha[t][j], the log-sum of the scores of all label
// prefixes ending in j at position t (end scores excluded).
func forward(emissions, trans [][]float64, start []float64) [][]float64 {
	n, k := len(emissions), len(start)
	alpha := newMatrix(n, k)
	for j := range alpha[0] {
		alpha[0][j] = start[j] + emissions[0][j]
	}
	column := make([]float64, k)
	for t := 1; t < n; t++ {
		for j := range alpha[t] {
			for i := range column {
				column[i] = trans[i][j]
			}
			alpha[t][j] = logSumExpPlus(alpha[t-1], column) + emissions[t][j]
		}
	}
	return alpha
}

// logSumExpPlus returns log Σᵢ exp(a[i] + b[i]) without overflow; it is
// -Inf if every term is. No term may be NaN or +Inf.
func logSumExpPlus(a, b []float64) float64 {
	top := math.Inf(-1)
	for i := range a {
		top = math.Max(top, a[i]+b[i])
	}
	if math.IsInf(top, -1) {
		return top
	}
	sum := 0.0
	for i := range a {
		sum += math.Exp(a[i] + b[i] - top)
	}
	return top + math.Log(sum)
}

// sequenceScore returns the score of the label sequence y, which must fit
// the parameters and not score -Inf.
func sequenceScore(emissions [][]float64, y []int, trans [][]float64, start, end []float64) (float64, error) {
	n, k := len(emissions), len(start)
	if len(y) != n {
		return 0, fmt.Errorf("decode: gold has %d labels for %d positions", len(y), n)
	}
	if n == 0 {
		return 0, nil
	}
	score := 0.0
	for t, j := range y {
		if j < 0 || j >= k {
			return 0, fmt.Errorf("decode: gold label %d at position %d is out of range [0, %d)", j, t, k)
		}
		if t == 0 {
			score += start[j]
		} else {
			score += trans[y[t-1]][j]
		}
		score += emissions[t][j]
		if math.IsInf(score, -1) {
			return 0, fmt.Errorf("decode: gold sequence scores -Inf at position %d (label %d)", t, j)
		}
	}
	score += end[y[n-1]]
	if math.IsInf(score, -1) {
		return 0, fmt.Errorf("decode: gold sequence scores -Inf at its end (label %d)", y[n-1])
	}
	return score, nil
}

// checkCRF checks the shapes of a CRF's scores and returns the sequence
// length n and the number of labels K.
func checkCRF(emissions, trans [][]float64, start, end []float64) (n, k int, err error) {
	k = len(start)
	if k == 0 {
		return 0, 0, errors.New("decode: no labels: start scores are empty")
	}
	if len(end) != k {
		return 0, 0, fmt.Errorf("decode: %d end scores for %d labels", len(end), k)
	}
	if len(trans) != k {
		return 0, 0, fmt.Errorf("decode: %d transition rows for %d labels", len(trans), k)
	}
	for i, row := range trans {
		if len(row) != k {
			return 0, 0, fmt.Errorf("decode: transition row %d has %d entries for %d labels", i, len(row), k)
		}
	}
	for t, row := range emissions {
		if len(row) != k {
			return 0, 0, fmt.Errorf("decode: emission row %d has %d entries for %d labels", t, len(row), k)
		}
	}
	return len(emissions), k, nil
}

// checkTrainable reports the first NaN or +Inf score: the CRF's
// probabilities are undefined with them.
func checkTrainable(emissions, trans [][]float64, start, end []float64) error {
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 1) }
	for t, row := range emissions {
		for j, x := range row {
			if bad(x) {
				return fmt.Errorf("decode: emissions[%d][%d] is %v", t, j, x)
			}
		}
	}
	for i, row := range trans {
		for j, x := range row {
			if bad(x) {
				return fmt.Errorf("decode: transitions[%d][%d] is %v", i, j, x)
			}
		}
	}
	for j := range start {
		if bad(start[j]) {
			return fmt.Errorf("decode: start[%d] is %v", j, start[j])
		}
		if bad(end[j]) {
			return fmt.Errorf("decode: end[%d] is %v", j, end[j])
		}
	}
	return nil
}

func newMatrix(rows, cols int) [][]float64 {
	m := make([][]float64, rows)
	for i := range m {
		m[i] = make([]float64, cols)
	}
	return m
}
