package decode

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestProjectiveTreesOracle(t *testing.T) {
	// The generator must agree with filtering all trees by isProjective,
	// and give the known counts (OEIS A006013).
	for n, want := range []int{1, 1, 2, 7, 30, 143, 728, 3876} {
		trees := projectiveTrees(n)
		if len(trees) != want {
			t.Errorf("n=%d: %d projective trees, want %d", n, len(trees), want)
		}
		if n > 6 {
			continue
		}
		filtered := 0
		for _, heads := range allTrees(n) {
			if isProjective(heads) {
				filtered++
			}
		}
		if filtered != want {
			t.Errorf("n=%d: %d trees pass isProjective, want %d", n, filtered, want)
		}
		for _, heads := range trees {
			checkTree(t, heads, n, true)
		}
	}
}

func TestEisnerMatchesBruteForce(t *testing.T) {
	for n := 0; n <= 7; n++ {
		trees := projectiveTrees(n)
		for seed := range uint64(30) {
			for _, odd := range []bool{false, true} {
				rng := rand.New(rand.NewPCG(seed, uint64(n)))
				s := randomScores(rng, n, odd)
				heads, err := Eisner(s)
				if err != nil {
					t.Fatal(err)
				}
				checkTree(t, heads, n, true)
				if got, want := Score(s, heads), bestScore(s, trees); !sameScore(got, want) {
					t.Fatalf("n=%d seed=%d odd=%v: Eisner %v scores %v, best projective tree scores %v", n, seed, odd, heads, got, want)
				}
			}
		}
	}
}

func TestMSTBeatsEisner(t *testing.T) {
	for n := 1; n <= 20; n++ {
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, uint64(n)))
			s := randomScores(rng, n, false)
			eisner, err := Eisner(s)
			if err != nil {
				t.Fatal(err)
			}
			checkTree(t, eisner, n, true)
			mst, err := MST(s)
			if err != nil {
				t.Fatal(err)
			}
			if m, e := Score(s, mst), Score(s, eisner); m < e && !sameScore(m, e) {
				t.Fatalf("n=%d seed=%d: MST scores %v < Eisner %v", n, seed, m, e)
			}
			// A projective MST is also Eisner's optimum.
			if isProjective(mst) && !sameScore(Score(s, mst), Score(s, eisner)) {
				t.Fatalf("n=%d seed=%d: projective MST scores %v, Eisner %v", n, seed, Score(s, mst), Score(s, eisner))
			}
		}
	}
}

func TestEisnerHandCases(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	tests := []struct {
		name   string
		scores [][]float64
		want   []int // nil: any projective tree
	}{
		{"no words", [][]float64{{0}}, []int{-1}},
		{"one word", [][]float64{{0, 0}, {nan, 0}}, []int{-1, 0}},
		{"two root children", [][]float64{{0, 0, 0}, {10, 0, 2}, {10, 1, 0}}, []int{-1, 2, 0}},
		{
			// The MST 0→2, 2→3, 2→4, 4→1 is not projective: 4→1 spans
			// 4's own head 2. The best projective tree attaches 1 to 2.
			"non-projective optimum",
			[][]float64{
				{0, 0, 0, 0, 0},
				{0, 0, 0, 0, 9},
				{9, 0, 0, 0, 0},
				{0, 0, 9, 0, 0},
				{0, 0, 9, 0, 0},
			},
			[]int{-1, 2, 0, 2, 2},
		},
		{"all tied", newMatrix(7, 7), nil},
		{"all -Inf", filled(7, -inf), nil},
		{"all NaN", filled(7, nan), nil},
		{"all +Inf", filled(7, inf), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			heads, err := Eisner(tt.scores)
			if err != nil {
				t.Fatal(err)
			}
			checkTree(t, heads, len(tt.scores)-1, true)
			if tt.want != nil && fmt.Sprint(heads) != fmt.Sprint(tt.want) {
				t.Errorf("Eisner = %v, want %v", heads, tt.want)
			}
		})
	}
}

func BenchmarkEisner(b *testing.B) {
	for _, n := range []int{50, 150} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := randomScores(rand.New(rand.NewPCG(1, 2)), n, false)
			for b.Loop() {
				if _, err := Eisner(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
