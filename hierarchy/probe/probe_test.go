package probe

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestTreeDistances(t *testing.T) {
	for _, c := range []struct {
		name  string
		heads []int
		want  [][]int
	}{
		{
			// 1 ← 2 ← 3 ← 4, with 4 the root.
			name: "chain", heads: []int{2, 3, 4, 0},
			want: [][]int{{0, 1, 2, 3}, {1, 0, 1, 2}, {2, 1, 0, 1}, {3, 2, 1, 0}},
		},
		{
			// Word 2 heads the others.
			name: "star", heads: []int{2, 0, 2, 2},
			want: [][]int{{0, 1, 2, 2}, {1, 0, 1, 1}, {2, 1, 0, 2}, {2, 1, 2, 0}},
		},
		{
			// "The dog barked loudly": dog ← The, barked ← dog, barked ← loudly.
			name: "sentence", heads: []int{2, 3, 0, 3},
			want: [][]int{{0, 1, 2, 3}, {1, 0, 1, 2}, {2, 1, 0, 1}, {3, 2, 1, 0}},
		},
		{
			// Two words under the root: the path between them goes through it.
			name: "two roots", heads: []int{0, 1, 0},
			want: [][]int{{0, 1, 2}, {1, 0, 3}, {2, 3, 0}},
		},
		{name: "one", heads: []int{0}, want: [][]int{{0}}},
		{name: "none", heads: nil, want: [][]int{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := TreeDistances(c.heads)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Errorf("TreeDistances = %v, want %v", got, c.want)
			}
		})
	}
}

func TestTreeDistancesErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		heads []int
		want  string
	}{
		{"head too high", []int{0, 3}, "out of range"},
		{"negative head", []int{-1, 0}, "out of range"},
		{"no root", []int{2, 1}, "root"},
		{"self loop", []int{0, 2}, "cycle"},
		{"cycle", []int{0, 3, 4, 2}, "cycle"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := TreeDistances(c.heads); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// TestTreeDistancesRandom checks on random trees that the distance between
// a word and its head is 1 and that the distances satisfy the triangle
// inequality and symmetry.
func TestTreeDistancesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		n := 1 + rng.IntN(30)
		heads := randomTree(rng, n)
		d, err := TreeDistances(heads)
		if err != nil {
			t.Fatalf("%v: %v", heads, err)
		}
		for i := range n {
			if h := heads[i]; h > 0 && d[i][h-1] != 1 {
				t.Errorf("%v: distance from %d to its head %d is %d", heads, i, h-1, d[i][h-1])
			}
			for j := range n {
				if d[i][j] != d[j][i] || (d[i][j] == 0) != (i == j) {
					t.Errorf("%v: d[%d][%d] = %d, d[%d][%d] = %d", heads, i, j, d[i][j], j, i, d[j][i])
				}
				for k := range n {
					if d[i][k] > d[i][j]+d[j][k] {
						t.Errorf("%v: d[%d][%d] > d[%d][%d] + d[%d][%d]", heads, i, k, i, j, j, k)
					}
				}
			}
		}
	}
}

// randomTree returns the heads of a random tree of n words with a single
// root.
func randomTree(rng *rand.Rand, n int) []int {
	order := rng.Perm(n) // order[0] is the root; every later word hangs from an earlier one
	heads := make([]int, n)
	for k := 1; k < n; k++ {
		heads[order[k]] = order[rng.IntN(k)] + 1
	}
	return heads
}

func TestMSTHand(t *testing.T) {
	// Points 0, 1, 3, 7 on a line: the chain.
	xs := []float64{0, 1, 3, 7}
	dist := make([][]float64, len(xs))
	for i := range xs {
		dist[i] = make([]float64, len(xs))
		for j := range xs {
			dist[i][j] = math.Abs(xs[i] - xs[j])
		}
	}
	if got, want := MST(dist), [][2]int{{0, 1}, {1, 2}, {2, 3}}; !slices.Equal(got, want) {
		t.Errorf("MST = %v, want %v", got, want)
	}
	// All weights equal: the star from vertex 0.
	ones := [][]float64{{0, 1, 1, 1}, {1, 0, 1, 1}, {1, 1, 0, 1}, {1, 1, 1, 0}}
	if got, want := MST(ones), [][2]int{{0, 1}, {0, 2}, {0, 3}}; !slices.Equal(got, want) {
		t.Errorf("MST of equal weights = %v, want %v", got, want)
	}
	// Only the upper triangle is read.
	upper := [][]float64{{0, 5, 1}, {99, 0, 2}, {99, 99, 0}}
	if got, want := MST(upper), [][2]int{{0, 2}, {1, 2}}; !slices.Equal(got, want) {
		t.Errorf("MST of the upper triangle = %v, want %v", got, want)
	}
	if got := MST([][]float64{{0}}); len(got) != 0 {
		t.Errorf("MST of one vertex = %v", got)
	}
	if got := MST(nil); len(got) != 0 {
		t.Errorf("MST of no vertex = %v", got)
	}
}

// TestMSTBruteForce compares the weight of MST's tree with the lightest of
// all spanning trees, on random graphs of up to 6 vertices, some with
// integer weights to make ties.
func TestMSTBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n := 2 + rng.IntN(5)
		dist := make([][]float64, n)
		for i := range dist {
			dist[i] = make([]float64, n)
		}
		var all [][2]int
		for i := range n {
			for j := i + 1; j < n; j++ {
				w := rng.Float64()
				if trial%2 == 1 {
					w = float64(rng.IntN(3))
				}
				dist[i][j], dist[j][i] = w, w
				all = append(all, [2]int{i, j})
			}
		}
		weight := func(edges [][2]int) float64 {
			var s float64
			for _, e := range edges {
				s += dist[e[0]][e[1]]
			}
			return s
		}

		got := MST(dist)
		if !spanning(n, got) {
			t.Fatalf("MST = %v is not a spanning tree of %d vertices", got, n)
		}
		for k, e := range got {
			if e[0] >= e[1] || k > 0 && !(got[k-1][0] < e[0] || got[k-1][0] == e[0] && got[k-1][1] < e[1]) {
				t.Fatalf("MST = %v: edges not (i<j) or not sorted", got)
			}
		}
		if !slices.Equal(got, MST(dist)) {
			t.Fatal("MST not deterministic")
		}

		// Every set of n−1 edges that spans.
		best := math.Inf(1)
		for mask := 0; mask < 1<<len(all); mask++ {
			var edges [][2]int
			for k, e := range all {
				if mask&(1<<k) != 0 {
					edges = append(edges, e)
				}
			}
			if len(edges) == n-1 && spanning(n, edges) {
				best = min(best, weight(edges))
			}
		}
		if w := weight(got); math.Abs(w-best) > 1e-12 {
			t.Errorf("trial %d: MST weight %v, lightest spanning tree %v", trial, w, best)
		}
	}
}

// spanning reports whether edges is a spanning tree of n vertices, using a
// union-find as Kruskal's algorithm does.
func spanning(n int, edges [][2]int) bool {
	if len(edges) != n-1 {
		return false
	}
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	for _, e := range edges {
		a, b := find(e[0]), find(e[1])
		if a == b {
			return false
		}
		parent[a] = b
	}
	return true
}

func TestMSTPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	MST([][]float64{{0, 1}, {1}})
}

func TestUUAS(t *testing.T) {
	// Gold: 0–1, 1–2, 3–2; 2 is the root.
	heads := []int{2, 3, 0, 3}
	for _, c := range []struct {
		name    string
		edges   [][2]int
		correct int
	}{
		{"all", [][2]int{{0, 1}, {1, 2}, {2, 3}}, 3},
		{"reversed", [][2]int{{1, 0}, {2, 1}, {3, 2}}, 3},
		{"two", [][2]int{{0, 1}, {0, 2}, {2, 3}}, 2},
		{"duplicate", [][2]int{{0, 1}, {1, 0}, {0, 3}}, 1},
		{"none", [][2]int{{0, 2}, {0, 3}, {1, 3}}, 0},
		{"empty", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if correct, total := UUAS(c.edges, heads); correct != c.correct || total != 3 {
				t.Errorf("UUAS = %d/%d, want %d/3", correct, total, c.correct)
			}
		})
	}
	// Two words under the root: one gold edge.
	if correct, total := UUAS([][2]int{{0, 1}, {1, 2}}, []int{0, 1, 0}); correct != 1 || total != 1 {
		t.Errorf("two roots: UUAS = %d/%d, want 1/1", correct, total)
	}
}

func TestUUASOfTreeDistances(t *testing.T) {
	// The MST of the gold distances is the gold tree.
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		n := 1 + rng.IntN(40)
		heads := randomTree(rng, n)
		gold, err := TreeDistances(heads)
		if err != nil {
			t.Fatal(err)
		}
		if correct, total := UUAS(MST(asFloats(gold)), heads); correct != n-1 || total != n-1 {
			t.Errorf("%v: UUAS = %d/%d, want %d/%d", heads, correct, total, n-1, n-1)
		}
	}
}

func TestUUASPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	UUAS(nil, []int{0, 5})
}

func TestSpearman(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name string
		x, y []float64
		want float64
	}{
		{"perfect", []float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{"monotone", []float64{1, 2, 3, 4}, []float64{1, 4, 9, 100}, 1},
		{"reversed", []float64{1, 2, 3}, []float64{3, 2, 1}, -1},
		// Without ties the classic formula holds: the ranks of y are
		// (4, 5, 3, 2, 1), Σd² = 9+9+0+4+16 = 38, ρ = 1 − 6·38/(5·24).
		{"no ties", []float64{1, 2, 3, 4, 5}, []float64{5, 6, 3, 2, 1}, 1 - 6*38.0/120},
		// x ranks (1.5, 1.5, 3, 4), y ranks (1, 2, 3.5, 3.5); centred:
		// (−1, −1, .5, 1.5) and (−1.5, −.5, 1, 1): Σxy = 1.5+.5+.5+1.5 = 4,
		// Σx² = 4.5, Σy² = 4.5: ρ = 4/4.5.
		{"ties", []float64{1, 1, 2, 3}, []float64{1, 2, 3, 3}, 4 / 4.5},
		// x ranks (2, 2, 2, 4): centred (−.5, −.5, −.5, 1.5), Σx² = 3; y
		// ranks (1, 2, 3, 4): centred (−1.5, −.5, .5, 1.5), Σy² = 5;
		// Σxy = .75+.25−.25+2.25 = 3: ρ = 3/√15.
		{"triple tie", []float64{7, 7, 7, 9}, []float64{1, 2, 3, 4}, 3 / math.Sqrt(15)},
		{"constant x", []float64{2, 2, 2}, []float64{1, 2, 3}, nan},
		{"constant y", []float64{1, 2, 3}, []float64{0, 0, 0}, nan},
		{"one", []float64{1}, []float64{2}, nan},
		{"none", nil, nil, nan},
		{"NaN", []float64{1, nan, 3}, []float64{1, 2, 3}, nan},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Spearman(c.x, c.y)
			if math.IsNaN(c.want) != math.IsNaN(got) || math.Abs(got-c.want) > 1e-12 {
				t.Errorf("Spearman = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSpearmanPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	Spearman([]float64{1, 2}, []float64{1})
}

func asFloats(d [][]int) [][]float64 {
	f := make([][]float64, len(d))
	for i, row := range d {
		f[i] = make([]float64, len(row))
		for j, v := range row {
			f[i][j] = float64(v)
		}
	}
	return f
}

func TestDSprPerfect(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var d DSpr
	if !math.IsNaN(d.Value()) || d.Sentences() != 0 {
		t.Errorf("empty DSpr: Value %v, %d sentences", d.Value(), d.Sentences())
	}
	for range 30 {
		gold, err := TreeDistances(randomTree(rng, 5+rng.IntN(46)))
		if err != nil {
			t.Fatal(err)
		}
		// A monotone transform of the gold distances is as good.
		pred := asFloats(gold)
		for _, row := range pred {
			for j := range row {
				row[j] = math.Exp(row[j])
			}
		}
		d.Add(pred, gold)
	}
	if v := d.Value(); math.Abs(v-1) > 1e-12 || d.Sentences() != 30 {
		t.Errorf("DSpr of perfect predictions = %v over %d sentences, want 1 over 30", v, d.Sentences())
	}
}

// chainDistances returns the distances between the words of a chain of n
// words, |i−j|.
func chainDistances(n int) [][]int {
	heads := make([]int, n)
	for i := 1; i < n; i++ {
		heads[i] = i
	}
	d, err := TreeDistances(heads)
	if err != nil {
		panic(err)
	}
	return d
}

func TestDSprAveraging(t *testing.T) {
	// Negated gold distances correlate −1 from every word.
	negated := func(gold [][]int) [][]float64 {
		pred := asFloats(gold)
		for _, row := range pred {
			for j := range row {
				row[j] = -row[j]
			}
		}
		return pred
	}
	var d DSpr
	g5, g7 := chainDistances(5), chainDistances(7)
	d.Add(asFloats(g5), g5) // length 5: 1
	d.Add(negated(g5), g5)  // length 5: −1, mean 0
	d.Add(negated(g7), g7)  // length 7: −1
	// The mean over lengths, (0 − 1)/2, not over sentences, (1 − 1 − 1)/3.
	if v := d.Value(); math.Abs(v-(-0.5)) > 1e-12 || d.Sentences() != 3 {
		t.Errorf("DSpr = %v over %d sentences, want -0.5 over 3", v, d.Sentences())
	}
}

func TestDSprLengths(t *testing.T) {
	var d DSpr
	for _, n := range []int{1, 2, 4, 51, 60} {
		g := chainDistances(n)
		d.Add(asFloats(g), g)
	}
	if d.Sentences() != 0 || !math.IsNaN(d.Value()) {
		t.Errorf("sentences out of 5..50 counted: %d, Value %v", d.Sentences(), d.Value())
	}
	for _, n := range []int{5, 50} {
		g := chainDistances(n)
		d.Add(asFloats(g), g)
	}
	if d.Sentences() != 2 || math.Abs(d.Value()-1) > 1e-12 {
		t.Errorf("lengths 5 and 50: %d sentences, Value %v", d.Sentences(), d.Value())
	}
}

func TestDSprSkipsUndefined(t *testing.T) {
	g := chainDistances(6)
	// Constant predictions: no word has a correlation.
	flat := make([][]float64, 6)
	for i := range flat {
		flat[i] = make([]float64, 6)
	}
	var d DSpr
	d.Add(flat, g)
	if d.Sentences() != 0 || !math.IsNaN(d.Value()) {
		t.Errorf("sentence of undefined correlations counted: %d, Value %v", d.Sentences(), d.Value())
	}
	// Word 0's predictions constant, the others perfect: word 0 is skipped
	// and the sentence scores 1.
	pred := asFloats(g)
	for j := range pred[0] {
		pred[0][j] = 3
	}
	d.Add(pred, g)
	if d.Sentences() != 1 || math.Abs(d.Value()-1) > 1e-12 {
		t.Errorf("one word undefined: %d sentences, Value %v", d.Sentences(), d.Value())
	}
	// The diagonal is not read.
	pred = asFloats(g)
	for i := range pred {
		pred[i][i] = 100
	}
	var e DSpr
	e.Add(pred, g)
	if math.Abs(e.Value()-1) > 1e-12 {
		t.Errorf("diagonal read: Value %v", e.Value())
	}
}

func TestDSprPanics(t *testing.T) {
	g := chainDistances(5)
	for _, c := range []struct {
		name string
		pred [][]float64
	}{
		{"rows", asFloats(g)[:4]},
		{"row length", append(asFloats(g)[:4], []float64{1, 2})},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			var d DSpr
			d.Add(c.pred, g)
		})
	}
}
