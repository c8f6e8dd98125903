package decode

import (
	"encoding/binary"
	"math"
	"testing"
)

// floats reads data as little-endian float64s, cycling through it (zeros
// if it is shorter than one number).
func floats(data []byte, count int) []float64 {
	out := make([]float64, count)
	if len(data) < 8 {
		return out
	}
	for i := range out {
		off := (8 * i) % (len(data) - 7)
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[off:]))
	}
	return out
}

func FuzzTrees(f *testing.F) {
	f.Add(byte(3), byte(1), []byte{})
	f.Add(byte(5), byte(0), []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(byte(11), byte(1), []byte("\x00\x00\x00\x00\x00\x00\xf8\x7f0123456789abcdef"))
	f.Fuzz(func(t *testing.T, size, shape byte, data []byte) {
		n := int(size % 16)
		values := floats(data, (n+1)*(n+1))
		scores := make([][]float64, n+1)
		for d := range scores {
			scores[d] = values[d*(n+1) : (d+1)*(n+1)]
		}
		square := shape%8 != 0
		if !square {
			// Break one row: a row too short or too long is an error.
			d := int(shape/8) % (n + 1)
			if shape%16 == 0 && n > 0 {
				scores[d] = scores[d][:n]
			} else {
				scores[d] = append(scores[d], 0)
			}
		}
		for name, decode := range map[string]func([][]float64) ([]int, error){"MST": MST, "Eisner": Eisner} {
			heads, err := decode(scores)
			if !square {
				if err == nil {
					t.Fatalf("%s accepted a ragged matrix", name)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			checkTree(t, heads, n, name == "Eisner")
			if n <= 5 {
				checkOptimal(t, name, scores, heads)
			}
		}
	})
}

// checkOptimal fails t unless heads has the highest weight, up to rounding,
// among the trees of its kind (projective for Eisner).
func checkOptimal(t *testing.T, name string, scores [][]float64, heads []int) {
	t.Helper()
	n := len(scores) - 1
	conv := newConverter(2*(n+1), scores...)
	treeWeight := func(heads []int) weight {
		var w weight
		for d := 1; d <= n; d++ {
			w = w.add(conv.weight(scores[d][heads[d]]))
		}
		return w
	}
	trees := allTrees(n)
	if name == "Eisner" {
		trees = projectiveTrees(n)
	}
	best := treeWeight(trees[0])
	for _, tree := range trees[1:] {
		if w := treeWeight(tree); best.less(w) {
			best = w
		}
	}
	// Sums in another order may round differently.
	tol := 0.0
	for _, row := range scores[1:] {
		for _, x := range row {
			if w := conv.weight(x); w.negInf == 0 && w.posInf == 0 {
				tol += math.Abs(w.val)
			}
		}
	}
	tol *= 1e-9
	got := treeWeight(heads)
	if got.negInf != best.negInf || got.posInf != best.posInf || math.Abs(got.val-best.val) > tol {
		t.Fatalf("%s = %v weighs %+v, best tree weighs %+v", name, heads, got, best)
	}
}

func FuzzViterbi(f *testing.F) {
	f.Add(byte(3), byte(2), uint64(0xffff), []byte{})
	f.Add(byte(1), byte(4), uint64(0), []byte{0, 0, 0, 0, 0, 0, 0xf0, 0xff})
	f.Fuzz(func(t *testing.T, length, labels byte, allow uint64, data []byte) {
		n, k := int(length%5), 1+int(labels%5)
		values := floats(data, n*k+k*k+2*k)
		take := func(count int) []float64 {
			v := values[:count]
			values = values[count:]
			return v
		}
		c := crf{emis: make([][]float64, n), trans: make([][]float64, k), start: take(k), end: take(k)}
		for t := range c.emis {
			c.emis[t] = take(k)
		}
		for i := range c.trans {
			c.trans[i] = take(k)
		}
		// allow's bits, cycled, say which starts, transitions and ends
		// are allowed.
		bit := 0
		next := func() bool { bit++; return allow>>(bit%64)&1 == 1 }
		cons := newConstraints(k)
		for i := range k {
			cons.Start[i], cons.End[i] = next(), next()
			for j := range k {
				cons.Trans[i][j] = next()
			}
		}
		y, err := Viterbi(c.emis, c.trans, c.start, c.end, cons)
		feasible := false
		for _, z := range sequences(n, k) {
			feasible = feasible || allowed(cons, z)
		}
		switch {
		case feasible && err != nil:
			t.Fatalf("Viterbi: %v, but an allowed sequence exists", err)
		case !feasible && err == nil:
			t.Fatalf("Viterbi = %v, but no sequence is allowed", y)
		case err == nil && (len(y) != n || !allowed(cons, y)):
			t.Fatalf("Viterbi = %v: not an allowed sequence of length %d", y, n)
		}
		// The trainer's functions must not panic either.
		gold := make([]int, n)
		_, _ = LogPartition(c.emis, c.trans, c.start, c.end)
		_, _, _, _, _, _ = CRFNLL(c.emis, gold, c.trans, c.start, c.end)
	})
}
