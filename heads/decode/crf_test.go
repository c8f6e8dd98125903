package decode

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// crf is a CRF's scores for one sequence.
type crf struct {
	emis, trans [][]float64
	start, end  []float64
}

// randomCRF returns random scores for n positions and k labels; with
// forbid set, about a sixth of the transitions, starts and ends are -Inf.
func randomCRF(rng *rand.Rand, n, k int, forbid bool) crf {
	x := func() float64 {
		if forbid && rng.IntN(6) == 0 {
			return math.Inf(-1)
		}
		return rng.NormFloat64()
	}
	c := crf{emis: newMatrix(n, k), trans: newMatrix(k, k), start: make([]float64, k), end: make([]float64, k)}
	for _, row := range c.emis {
		for j := range row {
			row[j] = rng.NormFloat64()
		}
	}
	for i := range c.trans {
		for j := range c.trans[i] {
			c.trans[i][j] = x()
		}
		c.start[i], c.end[i] = x(), x()
	}
	return c
}

// sequences returns all kⁿ label sequences.
func sequences(n, k int) [][]int {
	out := [][]int{{}}
	for range n {
		var next [][]int
		for _, y := range out {
			for j := range k {
				next = append(next, append(append([]int(nil), y...), j))
			}
		}
		out = next
	}
	return out
}

// score is the brute-force score of y.
func (c crf) score(y []int) float64 {
	if len(y) == 0 {
		return 0
	}
	s := c.start[y[0]] + c.end[y[len(y)-1]]
	for t, j := range y {
		s += c.emis[t][j]
		if t > 0 {
			s += c.trans[y[t-1]][j]
		}
	}
	return s
}

// allowed reports whether cons (nil: none) allows y.
func allowed(cons *Constraints, y []int) bool {
	if cons == nil || len(y) == 0 {
		return true
	}
	if !cons.Start[y[0]] || !cons.End[y[len(y)-1]] {
		return false
	}
	for t := 1; t < len(y); t++ {
		if !cons.Trans[y[t-1]][y[t]] {
			return false
		}
	}
	return true
}

func TestViterbiMatchesBruteForce(t *testing.T) {
	cons, err := IOBESConstraints([]string{"O", "B-X", "I-X", "E-X", "S-X"})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= 5; n++ {
		for k := 1; k <= 5; k++ {
			for seed := range uint64(10) {
				rng := rand.New(rand.NewPCG(seed, uint64(10*n+k)))
				c := randomCRF(rng, n, k, seed%2 == 1)
				var with *Constraints
				if k == 5 && seed < 5 {
					with = cons
				}
				y, err := Viterbi(c.emis, c.trans, c.start, c.end, with)
				if err != nil {
					t.Fatal(err)
				}
				if len(y) != n || !allowed(with, y) {
					t.Fatalf("n=%d k=%d seed=%d: Viterbi = %v, not an allowed sequence of length %d", n, k, seed, y, n)
				}
				best := math.Inf(-1)
				for _, z := range sequences(n, k) {
					if allowed(with, z) {
						best = math.Max(best, c.score(z))
					}
				}
				if got := c.score(y); !sameScore(got, best) {
					t.Fatalf("n=%d k=%d seed=%d constrained=%v: Viterbi %v scores %v, best is %v", n, k, seed, with != nil, y, got, best)
				}
			}
		}
	}
}

func TestLogPartitionMatchesBruteForce(t *testing.T) {
	for n := 0; n <= 5; n++ {
		for k := 1; k <= 3; k++ {
			for seed := range uint64(6) {
				rng := rand.New(rand.NewPCG(seed, uint64(10*n+k)))
				c := randomCRF(rng, n, k, seed%2 == 1)
				got, err := LogPartition(c.emis, c.trans, c.start, c.end)
				if err != nil {
					t.Fatal(err)
				}
				sum := 0.0
				for _, y := range sequences(n, k) {
					sum += math.Exp(c.score(y))
				}
				if want := math.Log(sum); !sameScore(got, want) {
					t.Fatalf("n=%d k=%d seed=%d: LogPartition = %v, want %v", n, k, seed, got, want)
				}
			}
		}
	}
}

func TestLogPartitionLargeScores(t *testing.T) {
	// exp(1000) overflows; log-sum-exp must not.
	c := crf{emis: [][]float64{{1000, 1000}}, trans: newMatrix(2, 2), start: []float64{0, 0}, end: []float64{0, 0}}
	got, err := LogPartition(c.emis, c.trans, c.start, c.end)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1000 + math.Log(2); !sameScore(got, want) {
		t.Fatalf("LogPartition = %v, want %v", got, want)
	}
}

func TestCRFNLLGradient(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{1, 1}, {1, 3}, {2, 2}, {4, 3}, {5, 4}} {
		for seed := range uint64(3) {
			rng := rand.New(rand.NewPCG(seed, uint64(10*tc.n+tc.k)))
			c := randomCRF(rng, tc.n, tc.k, false)
			gold := make([]int, tc.n)
			for t := range gold {
				gold[t] = rng.IntN(tc.k)
			}
			nll, dEmis, dTrans, dStart, dEnd, err := CRFNLL(c.emis, gold, c.trans, c.start, c.end)
			if err != nil {
				t.Fatal(err)
			}
			logZ, err := LogPartition(c.emis, c.trans, c.start, c.end)
			if err != nil {
				t.Fatal(err)
			}
			if want := logZ - c.score(gold); !sameScore(nll, want) {
				t.Fatalf("NLL = %v, want %v", nll, want)
			}
			// Central differences for every parameter.
			const h = 1e-5
			check := func(name string, p *float64, grad float64) {
				t.Helper()
				orig := *p
				*p = orig + h
				plus, _, _, _, _, err := CRFNLL(c.emis, gold, c.trans, c.start, c.end)
				if err != nil {
					t.Fatal(err)
				}
				*p = orig - h
				minus, _, _, _, _, err := CRFNLL(c.emis, gold, c.trans, c.start, c.end)
				if err != nil {
					t.Fatal(err)
				}
				*p = orig
				if fd := (plus - minus) / (2 * h); math.Abs(fd-grad) > 1e-6 {
					t.Errorf("n=%d k=%d seed=%d: d%s = %v, finite difference %v", tc.n, tc.k, seed, name, grad, fd)
				}
			}
			for i := range c.emis {
				for j := range c.emis[i] {
					check(fmt.Sprintf("Emis[%d][%d]", i, j), &c.emis[i][j], dEmis[i][j])
				}
			}
			for i := range c.trans {
				for j := range c.trans[i] {
					check(fmt.Sprintf("Trans[%d][%d]", i, j), &c.trans[i][j], dTrans[i][j])
				}
				check(fmt.Sprintf("Start[%d]", i), &c.start[i], dStart[i])
				check(fmt.Sprintf("End[%d]", i), &c.end[i], dEnd[i])
			}
		}
	}
}

func TestCRFNLLForbiddenTransitions(t *testing.T) {
	// -Inf transitions rule sequences out: the NLL is that of the CRF over
	// the remaining sequences, and the forbidden scores get no gradient.
	rng := rand.New(rand.NewPCG(7, 7))
	c := randomCRF(rng, 4, 3, false)
	c.trans[0][1] = math.Inf(-1)
	c.trans[2][2] = math.Inf(-1)
	c.start[1] = math.Inf(-1)
	gold := []int{0, 0, 2, 1}
	nll, _, dTrans, dStart, _, err := CRFNLL(c.emis, gold, c.trans, c.start, c.end)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, y := range sequences(4, 3) {
		sum += math.Exp(c.score(y))
	}
	if want := math.Log(sum) - c.score(gold); !sameScore(nll, want) {
		t.Errorf("NLL = %v, want %v", nll, want)
	}
	if dTrans[0][1] != 0 || dTrans[2][2] != 0 || dStart[1] != 0 {
		t.Errorf("forbidden scores have gradients %v, %v, %v, want 0", dTrans[0][1], dTrans[2][2], dStart[1])
	}
}

func TestCRFNLLEmpty(t *testing.T) {
	c := randomCRF(rand.New(rand.NewPCG(1, 1)), 0, 2, false)
	nll, dEmis, dTrans, dStart, dEnd, err := CRFNLL(c.emis, nil, c.trans, c.start, c.end)
	if err != nil {
		t.Fatal(err)
	}
	if nll != 0 || len(dEmis) != 0 || len(dTrans) != 2 || len(dStart) != 2 || len(dEnd) != 2 {
		t.Fatalf("CRFNLL of an empty sequence = %v, %v, %v, %v, %v", nll, dEmis, dTrans, dStart, dEnd)
	}
}

func TestCRFErrors(t *testing.T) {
	good := func() crf { return randomCRF(rand.New(rand.NewPCG(1, 1)), 3, 2, false) }
	tests := []struct {
		name   string
		edit   func(*crf)
		gold   []int
		substr string
	}{
		{"no labels", func(c *crf) { c.start = nil }, nil, "no labels"},
		{"short end", func(c *crf) { c.end = c.end[:1] }, nil, "end scores"},
		{"short trans", func(c *crf) { c.trans = c.trans[:1] }, nil, "transition rows"},
		{"ragged trans", func(c *crf) { c.trans[1] = c.trans[1][:1] }, nil, "transition row 1"},
		{"ragged emissions", func(c *crf) { c.emis[2] = append(c.emis[2], 0) }, nil, "emission row 2"},
		{"NaN emission", func(c *crf) { c.emis[1][0] = math.NaN() }, nil, "emissions[1][0] is NaN"},
		{"+Inf transition", func(c *crf) { c.trans[0][1] = math.Inf(1) }, nil, "transitions[0][1] is +Inf"},
		{"NaN start", func(c *crf) { c.start[1] = math.NaN() }, nil, "start[1]"},
		{"+Inf end", func(c *crf) { c.end[0] = math.Inf(1) }, nil, "end[0]"},
		{"short gold", nil, []int{0, 1}, "2 labels for 3 positions"},
		{"gold out of range", nil, []int{0, 2, 1}, "gold label 2 at position 1"},
		{"negative gold", nil, []int{0, 1, -1}, "gold label -1 at position 2"},
		{"impossible gold", func(c *crf) { c.trans[1][1] = math.Inf(-1) }, []int{0, 1, 1}, "-Inf at position 2"},
		{"impossible gold end", func(c *crf) { c.end[1] = math.Inf(-1) }, []int{0, 1, 1}, "-Inf at its end"},
		{"overflow", func(c *crf) { c.emis[0][0], c.emis[1][0] = math.MaxFloat64, math.MaxFloat64 }, nil, "overflow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			if tt.edit != nil {
				tt.edit(&c)
			}
			gold := tt.gold
			if gold == nil {
				gold = []int{0, 0, 0}
			}
			_, _, _, _, _, err := CRFNLL(c.emis, gold, c.trans, c.start, c.end)
			if err == nil || !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("CRFNLL error = %v, want one containing %q", err, tt.substr)
			}
		})
	}
}

func TestViterbiOddScores(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	tests := []struct {
		name string
		c    crf
		want []int
	}{
		{
			"avoids -Inf and NaN",
			crf{[][]float64{{0, -inf, 1}, {nan, 0, 9}}, [][]float64{{0, 0, 0}, {0, 0, 0}, {0, 0, -inf}}, []float64{0, 0, 0}, []float64{0, 0, 0}},
			[]int{0, 2}, // [2 2] would score 10 but for the -Inf transition
		},
		{
			"takes +Inf",
			crf{[][]float64{{0, 0}, {0, 0}}, [][]float64{{0, inf}, {0, 0}}, []float64{0, 0}, []float64{0, 0}},
			[]int{0, 1},
		},
		{
			"all -Inf",
			crf{[][]float64{{-inf, -inf}}, [][]float64{{-inf, -inf}, {-inf, -inf}}, []float64{-inf, -inf}, []float64{-inf, -inf}},
			[]int{0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Viterbi(tt.c.emis, tt.c.trans, tt.c.start, tt.c.end, nil)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Viterbi = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestViterbiConstraintErrors(t *testing.T) {
	c := randomCRF(rand.New(rand.NewPCG(1, 1)), 2, 2, false)
	none := newConstraints(2) // nothing may start
	if y, err := Viterbi(c.emis, c.trans, c.start, c.end, none); err == nil {
		t.Errorf("Viterbi with unsatisfiable constraints = %v, want an error", y)
	}
	misfit := newConstraints(3)
	if y, err := Viterbi(c.emis, c.trans, c.start, c.end, misfit); err == nil {
		t.Errorf("Viterbi with constraints for 3 labels = %v, want an error", y)
	}
	ragged := newConstraints(2)
	ragged.Trans[1] = nil
	if y, err := Viterbi(c.emis, c.trans, c.start, c.end, ragged); err == nil {
		t.Errorf("Viterbi with a ragged constraint row = %v, want an error", y)
	}
}

func BenchmarkCRFNLL(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := randomCRF(rng, 128, 17, false)
	gold := make([]int, 128)
	for t := range gold {
		gold[t] = rng.IntN(17)
	}
	for b.Loop() {
		if _, _, _, _, _, err := CRFNLL(c.emis, gold, c.trans, c.start, c.end); err != nil {
			b.Fatal(err)
		}
	}
}
