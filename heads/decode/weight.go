package decode

import "math"

// weight is a score in a lexicographically ordered group: structures are
// compared first by how many ROOT arcs they use (fewer is better; only MST
// sets this), then by how many -Inf or NaN scores they use (fewer is better),
// then by how many +Inf scores (more is better), and only then by the sum
// of their finite scores. Because this is an ordered abelian group, the
// decoders can add, subtract and compare weights exactly as they would
// reals, and infinite or NaN scores can never turn a sum into NaN.
type weight struct {
	roots  int     // minus the number of ROOT arcs
	negInf int     // minus the number of -Inf and NaN scores
	posInf int     // number of +Inf scores
	val    float64 // sum of the finite scores, scaled by converter.scale
}

func (a weight) add(b weight) weight {
	return weight{a.roots + b.roots, a.negInf + b.negInf, a.posInf + b.posInf, a.val + b.val}
}

func (a weight) sub(b weight) weight {
	return weight{a.roots - b.roots, a.negInf - b.negInf, a.posInf - b.posInf, a.val - b.val}
}

func (a weight) less(b weight) bool {
	switch {
	case a.roots != b.roots:
		return a.roots < b.roots
	case a.negInf != b.negInf:
		return a.negInf < b.negInf
	case a.posInf != b.posInf:
		return a.posInf < b.posInf
	}
	return a.val < b.val
}

// converter turns float64 scores into weights. Finite scores so large that
// a sum of them could overflow are scaled down by a power of two, which
// keeps their order and (short of underflow) their exact ratios.
type converter struct {
	scale float64
}

// newConverter returns a converter for decoders that add, subtract and
// compare sums of up to terms of the scores in rows.
func newConverter(terms int, rows ...[]float64) converter {
	largest := 0.0
	for _, row := range rows {
		for _, x := range row {
			if a := math.Abs(x); a > largest && !math.IsInf(a, 0) {
				largest = a
			}
		}
	}
	// The Chu-Liu/Edmonds contraction stacks a difference of two sums per
	// level, hence the headroom factor of 4.
	limit := math.MaxFloat64 / (4 * float64(terms+1))
	if largest <= limit {
		return converter{scale: 1}
	}
	_, eLargest := math.Frexp(largest)
	_, eLimit := math.Frexp(limit)
	return converter{scale: math.Ldexp(1, eLimit-eLargest-1)}
}

func (c converter) weight(x float64) weight {
	switch {
	case math.IsNaN(x) || math.IsInf(x, -1):
		return weight{negInf: -1}
	case math.IsInf(x, 1):
		return weight{posInf: 1}
	}
	return weight{val: x * c.scale}
}
