package decode

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestMSTMatchesBruteForce(t *testing.T) {
	for n := 0; n <= 6; n++ {
		trees := allTrees(n)
		for seed := range uint64(40) {
			for _, odd := range []bool{false, true} {
				rng := rand.New(rand.NewPCG(seed, uint64(n)))
				s := randomScores(rng, n, odd)
				heads, err := MST(s)
				if err != nil {
					t.Fatal(err)
				}
				checkTree(t, heads, n, false)
				if got, want := Score(s, heads), bestScore(s, trees); !sameScore(got, want) {
					t.Fatalf("n=%d seed=%d odd=%v: MST %v scores %v, best tree scores %v\nscores %v", n, seed, odd, heads, got, want, s)
				}
			}
		}
	}
}

func TestMSTAlwaysTree(t *testing.T) {
	for n := 7; n <= 12; n++ {
		for seed := range uint64(50) {
			rng := rand.New(rand.NewPCG(seed, uint64(n)))
			heads, err := MST(randomScores(rng, n, seed%2 == 0))
			if err != nil {
				t.Fatal(err)
			}
			checkTree(t, heads, n, false)
		}
	}
}

func TestMSTHandCases(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	tests := []struct {
		name   string
		scores [][]float64
		want   []int // nil: any tree
	}{
		{"no words", [][]float64{{0}}, []int{-1}},
		{"no words, NaN", [][]float64{{nan}}, []int{-1}},
		{"one word", [][]float64{{0, 0}, {-inf, 7}}, []int{-1, 0}},
		{"one word, NaN", [][]float64{{nan, nan}, {nan, nan}}, []int{-1, 0}},
		{
			// The unconstrained optimum attaches both words to ROOT (20).
			"two root children",
			[][]float64{{0, 0, 0}, {10, 0, 2}, {10, 1, 0}},
			[]int{-1, 2, 0},
		},
		{
			// Words 1 and 3 both prefer ROOT; 2 is a good head for both.
			"two root children, three words",
			[][]float64{{0, 0, 0, 0}, {9, 0, 5, 0}, {4, -1, 0, -1}, {9, 0, 6, 0}},
			[]int{-1, 2, 0, 2},
		},
		{
			// Only one tree avoids -Inf.
			"forced by -Inf",
			[][]float64{
				{0, 0, 0, 0},
				{-inf, -inf, 1, -inf},
				{-5, -inf, -inf, nan},
				{-inf, 1, nan, -inf},
			},
			[]int{-1, 2, 0, 1},
		},
		{"+Inf arc is taken", [][]float64{{0, 0, 0, 0}, {5, 0, 1, 1}, {5, 1, 0, 1}, {5, 1, inf, 0}}, []int{-1, 0, 1, 2}},
		{"all tied", newMatrix(6, 6), nil},
		{"all -Inf", filled(6, -inf), nil},
		{"all NaN", filled(6, nan), nil},
		{"all +Inf", filled(6, inf), nil},
		{"only ROOT arcs finite", [][]float64{{0, 0, 0}, {5, -inf, -inf}, {5, -inf, -inf}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			heads, err := MST(tt.scores)
			if err != nil {
				t.Fatal(err)
			}
			checkTree(t, heads, len(tt.scores)-1, false)
			if tt.want != nil && fmt.Sprint(heads) != fmt.Sprint(tt.want) {
				t.Errorf("MST = %v, want %v", heads, tt.want)
			}
		})
	}
}

func TestMSTHugeScores(t *testing.T) {
	// Scaling every score by 2¹⁰²¹ must not change the tree, although
	// sums of the scaled scores overflow float64.
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		s := randomScores(rng, 8, false)
		want, err := MST(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range s {
			for h := range row {
				row[h] = math.Ldexp(row[h], 1021)
				if math.IsInf(row[h], 0) {
					t.Fatalf("seed %d: score %v overflows", seed, row[h])
				}
			}
		}
		got, err := MST(s)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: MST of scaled scores = %v, want %v", seed, got, want)
		}
	}
}

func filled(size int, x float64) [][]float64 {
	s := newMatrix(size, size)
	for _, row := range s {
		for h := range row {
			row[h] = x
		}
	}
	return s
}

func BenchmarkMST(b *testing.B) {
	for _, n := range []int{50, 150} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := randomScores(rand.New(rand.NewPCG(1, 2)), n, false)
			for b.Loop() {
				if _, err := MST(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
