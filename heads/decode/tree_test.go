package decode

import (
	"errors"
	"math"
	"testing"
)

func TestIsTree(t *testing.T) {
	tests := []struct {
		name  string
		heads []int
		want  error // nil, a sentinel, or errAny
	}{
		{"only ROOT", []int{-1}, nil},
		{"ROOT entry 0", []int{0, 0}, nil},
		{"one word", []int{-1, 0}, nil},
		{"chain", []int{-1, 2, 3, 0}, nil},
		{"bushy", []int{-1, 2, 0, 2, 3, 3}, nil},
		{"empty", []int{}, errAny},
		{"bad ROOT entry", []int{1, 0}, ErrHeadRange},
		{"negative head", []int{-1, 0, -1}, ErrHeadRange},
		{"head past end", []int{-1, 0, 3}, ErrHeadRange},
		{"no root, cycle", []int{-1, 2, 1}, ErrNoRoot},
		{"two roots", []int{-1, 0, 0}, ErrMultipleRoots},
		{"self loop", []int{-1, 0, 2}, ErrCycle},
		{"cycle beside root", []int{-1, 0, 3, 2}, ErrCycle},
		{"long cycle", []int{-1, 0, 3, 4, 5, 2}, ErrCycle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := IsTree(tt.heads)
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("IsTree(%v) = %v, want nil", tt.heads, err)
			case tt.want == errAny && err == nil:
				t.Errorf("IsTree(%v) = nil, want an error", tt.heads)
			case tt.want != nil && tt.want != errAny && !errors.Is(err, tt.want):
				t.Errorf("IsTree(%v) = %v, want %v", tt.heads, err, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestIsTreeCountsTrees(t *testing.T) {
	// Trees over n words with one ROOT child: n choices of that child times
	// nⁿ⁻² trees over the words (Cayley), i.e. nⁿ⁻¹.
	for n, want := range []int{1, 1, 2, 9, 64, 625} {
		if got := len(allTrees(n)); got != want {
			t.Errorf("n=%d: %d trees, want %d", n, got, want)
		}
	}
}

func TestScore(t *testing.T) {
	s := [][]float64{
		{9, 9, 9},
		{1, 9, 2},
		{3, math.NaN(), 9},
	}
	tests := []struct {
		heads []int
		want  float64
	}{
		{[]int{-1, 0, 0}, 4},
		{[]int{-1, 2, 0}, 5},
		{[]int{-1, 0, 1}, math.Inf(-1)}, // NaN counts as -Inf
		{[]int{-1, 0}, math.NaN()},      // wrong length
		{[]int{-1, 3, 0}, math.NaN()},   // head out of range
		{[]int{-1, -2, 0}, math.NaN()},
	}
	for _, tt := range tests {
		got := Score(s, tt.heads)
		if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("Score(%v) = %v, want %v", tt.heads, got, tt.want)
		}
	}
	if got := Score([][]float64{{1, 1}, {2}}, []int{-1, 1}); !math.IsNaN(got) {
		t.Errorf("Score with a short row = %v, want NaN", got)
	}
}

func TestGreedy(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	s := [][]float64{
		{0, 0, 0, 0},
		{1, 99, 2, 2}, // self excluded; tie goes to the lower index
		{nan, 0, 0, -1},
		{-inf, nan, inf, 5},
	}
	got, err := Greedy(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{-1, 2, 1, 2}
	for d := range want {
		if got[d] != want[d] {
			t.Fatalf("Greedy = %v, want %v", got, want)
		}
	}
}

func TestNotSquare(t *testing.T) {
	decoders := map[string]func([][]float64) ([]int, error){"MST": MST, "Eisner": Eisner, "Greedy": Greedy}
	inputs := map[string][][]float64{
		"empty":     {},
		"nil row":   {nil},
		"short row": {{0, 0}, {0}},
		"long row":  {{0, 0}, {0, 0, 0}},
		"too wide":  {{0, 0, 0}, {0, 0, 0}},
	}
	for dname, decode := range decoders {
		for iname, in := range inputs {
			if heads, err := decode(in); err == nil {
				t.Errorf("%s(%s) = %v, want an error", dname, iname, heads)
			}
		}
	}
}
