package decode

// Argmax returns the index of the largest value of v (the first of equal
// ones; 0 for an empty v): greedy decoding of one row of scores.
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
