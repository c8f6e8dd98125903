package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// line returns 1-dimensional points at the given coordinates.
func line(xs ...float32) [][]float32 {
	p := make([][]float32, len(xs))
	for i, x := range xs {
		p[i] = []float32{x}
	}
	return p
}

func close(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b))
}

func checkMerges(t *testing.T, got, want []Merge) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d merges %v, want %d %v", len(got), got, len(want), want)
	}
	for k := range got {
		g, w := got[k], want[k]
		if g.A != w.A || g.B != w.B || !close(g.Height, w.Height) || !close(g.Size, w.Size) {
			t.Errorf("merge %d = %+v, want %+v", k, g, w)
		}
	}
}

func TestAgglomerateHand(t *testing.T) {
	sqrt := math.Sqrt
	for _, c := range []struct {
		name     string
		points   [][]float32
		sizes    []float64
		link     Linkage
		adjacent bool
		want     []Merge
	}{
		{
			// {0,1} at 1; {0,1}–2 = (3+2)/2; {0,1,2}–3 = (7+6+4)/3.
			name: "average", points: line(0, 1, 3, 7), link: Average,
			want: []Merge{{0, 1, 1, 2}, {2, 4, 2.5, 3}, {3, 5, 17.0 / 3, 4}},
		},
		{
			// Centroids 0.5 then 4/3.
			name: "ward", points: line(0, 1, 3, 7), link: Ward,
			want: []Merge{{0, 1, 1, 2}, {2, 4, sqrt(4.0/3) * 2.5, 3}, {3, 5, sqrt(6.0/4) * (7 - 4.0/3), 4}},
		},
		{
			// Item 0 weighs 3: {0,1}–2 = (3·3 + 1·2)/4.
			name: "average sizes", points: line(0, 1, 3), sizes: []float64{3, 1, 1}, link: Average,
			want: []Merge{{0, 1, 1, 4}, {2, 3, 11.0 / 4, 5}},
		},
		{
			// 0–1 = sqrt(2·3/4)·1 < 1–2 = 2; {0,1} has centroid 0.25.
			name: "ward sizes", points: line(0, 1, 3), sizes: []float64{3, 1, 1}, link: Ward,
			want: []Merge{{0, 1, sqrt(1.5), 4}, {2, 3, sqrt(2*4.0/5) * 2.75, 5}},
		},
		{
			// 0 and 2 are closest but not adjacent; {1,2}–0 = (10+1)/2 is
			// lower than the first height.
			name: "average adjacent", points: line(0, 10, 1), link: Average, adjacent: true,
			want: []Merge{{1, 2, 9, 2}, {0, 3, 5.5, 3}},
		},
		{
			name: "ward adjacent", points: line(0, 10, 1), link: Ward, adjacent: true,
			want: []Merge{{1, 2, 9, 2}, {0, 3, sqrt(4.0/3) * 5.5, 3}},
		},
		{
			name: "average unconstrained", points: line(0, 10, 1), link: Average,
			want: []Merge{{0, 2, 1, 2}, {1, 3, 9.5, 3}},
		},
		{
			// All pairs tie: the lowest ids go first.
			name: "ties", points: line(5, 5, 5, 5), link: Average,
			want: []Merge{{0, 1, 0, 2}, {2, 3, 0, 2}, {4, 5, 0, 4}},
		},
		{
			// (2,4) ties with (2,3): (2,3) has the lower larger id.
			name: "ties adjacent", points: line(5, 5, 5, 5), link: Ward, adjacent: true,
			want: []Merge{{0, 1, 0, 2}, {2, 3, 0, 2}, {4, 5, 0, 4}},
		},
		{name: "one", points: line(1), link: Ward, want: []Merge{}},
		{name: "none", points: nil, link: Average, adjacent: true, want: []Merge{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkMerges(t, Agglomerate(c.points, c.sizes, c.link, c.adjacent), c.want)
		})
	}
}

// bruteForce clusters as Agglomerate does, but computes every cluster
// distance from the members at every step.
func bruteForce(points [][]float32, sizes []float64, link Linkage, adjacent bool) []Merge {
	n := len(points)
	w := func(i int) float64 {
		if sizes == nil {
			return 1
		}
		return sizes[i]
	}
	dist := func(x, y []float64) float64 {
		var s float64
		for k := range x {
			s += (x[k] - y[k]) * (x[k] - y[k])
		}
		return math.Sqrt(s)
	}
	vec := func(i int) []float64 {
		v := make([]float64, len(points[i]))
		for k, x := range points[i] {
			v[k] = float64(x)
		}
		return v
	}
	linkage := func(a, b []int) float64 {
		var wa, wb float64
		for _, i := range a {
			wa += w(i)
		}
		for _, j := range b {
			wb += w(j)
		}
		if link == Average {
			var s float64
			for _, i := range a {
				for _, j := range b {
					s += w(i) * w(j) * dist(vec(i), vec(j))
				}
			}
			return s / (wa * wb)
		}
		centroid := func(c []int, wc float64) []float64 {
			m := make([]float64, len(points[0]))
			for _, i := range c {
				for k, x := range vec(i) {
					m[k] += w(i) * x / wc
				}
			}
			return m
		}
		return math.Sqrt(2*wa*wb/(wa+wb)) * dist(centroid(a, wa), centroid(b, wb))
	}
	members := map[int][]int{}
	var live []int // ids, in sequence order when adjacent
	for i := range n {
		members[i] = []int{i}
		live = append(live, i)
	}
	var merges []Merge
	for len(live) > 1 {
		bestD, bestA, bestB, bestX := math.Inf(1), -1, -1, -1
		for x := range live {
			for y := x + 1; y < len(live); y++ {
				if adjacent && y != x+1 {
					break
				}
				a, b := min(live[x], live[y]), max(live[x], live[y])
				d := linkage(members[a], members[b])
				if bestA < 0 || d < bestD || d == bestD && (a < bestA || a == bestA && b < bestB) {
					bestD, bestA, bestB, bestX = d, a, b, x
				}
			}
		}
		id := n + len(merges)
		members[id] = append(slices.Clone(members[bestA]), members[bestB]...)
		var size float64
		for _, i := range members[id] {
			size += w(i)
		}
		merges = append(merges, Merge{bestA, bestB, bestD, size})
		live = slices.DeleteFunc(live, func(c int) bool { return c == bestA || c == bestB })
		if adjacent {
			live = slices.Insert(live, bestX, id)
		} else {
			live = append(live, id)
		}
	}
	return merges
}

func randomPoints(rng *rand.Rand, n, dim int) [][]float32 {
	p := make([][]float32, n)
	for i := range p {
		p[i] = make([]float32, dim)
		for k := range p[i] {
			p[i][k] = float32(rng.NormFloat64())
		}
	}
	return p
}

func randomSizes(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 0.25 + 3*rng.Float64()
	}
	return s
}

func TestAgglomerateBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 60 {
		n := 1 + rng.IntN(14)
		points := randomPoints(rng, n, 1+rng.IntN(5))
		var sizes []float64
		if trial%2 == 1 {
			sizes = randomSizes(rng, n)
		}
		for _, link := range []Linkage{Average, Ward} {
			for _, adjacent := range []bool{false, true} {
				t.Run(fmt.Sprintf("%d/%s/adjacent=%v", trial, link, adjacent), func(t *testing.T) {
					checkMerges(t, Agglomerate(points, sizes, link, adjacent), bruteForce(points, sizes, link, adjacent))
				})
			}
		}
	}
}

// TestAgglomerateGridTies checks the tie-breaking against the brute force on
// points of a small integer grid, where many distances are equal.
func TestAgglomerateGridTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 40 {
		n := 2 + rng.IntN(10)
		points := make([][]float32, n)
		for i := range points {
			points[i] = []float32{float32(rng.IntN(3)), float32(rng.IntN(3))}
		}
		// Average linkage of unit items on the line or on the grid keeps
		// ties exact often enough; Ward's square roots rarely do.
		for _, adjacent := range []bool{false, true} {
			got := Agglomerate(points, nil, Average, adjacent)
			want := bruteForce(points, nil, Average, adjacent)
			for k := range got {
				if got[k].Height != want[k].Height {
					break // a tie decided on rounding: the rest may differ
				}
				if got[k].A != want[k].A || got[k].B != want[k].B {
					t.Fatalf("trial %d adjacent=%v: merge %d = %+v, want %+v", trial, adjacent, k, got[k], want[k])
				}
			}
		}
	}
}

func TestAgglomerateMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 20 {
		n := 2 + rng.IntN(80)
		points := randomPoints(rng, n, 8)
		sizes := randomSizes(rng, n)
		for _, link := range []Linkage{Average, Ward} {
			merges := Agglomerate(points, sizes, link, false)
			if len(merges) != n-1 {
				t.Fatalf("%d merges of %d items", len(merges), n)
			}
			for k := 1; k < len(merges); k++ {
				if merges[k].Height < merges[k-1].Height*(1-1e-12) {
					t.Errorf("trial %d %s: height %d = %v < height %d = %v", trial, link, k, merges[k].Height, k-1, merges[k-1].Height)
				}
			}
		}
	}
}

func TestAgglomerateContiguous(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 20 {
		n := 1 + rng.IntN(100)
		points := randomPoints(rng, n, 4)
		for _, link := range []Linkage{Average, Ward} {
			merges := Agglomerate(points, randomSizes(rng, n), link, true)
			if len(merges) != max(n-1, 0) {
				t.Fatalf("%d merges of %d items", len(merges), n)
			}
			// lo and hi are each cluster's first and last item.
			lo, hi := make([]int, n, 2*n), make([]int, n, 2*n)
			for i := range n {
				lo[i], hi[i] = i, i
			}
			for k, m := range merges {
				if m.A >= m.B || m.B >= n+k {
					t.Fatalf("merge %d = %+v", k, m)
				}
				if hi[m.A]+1 != lo[m.B] && hi[m.B]+1 != lo[m.A] {
					t.Fatalf("trial %d %s: merge %d joins [%d,%d] and [%d,%d]", trial, link, k, lo[m.A], hi[m.A], lo[m.B], hi[m.B])
				}
				lo = append(lo, min(lo[m.A], lo[m.B]))
				hi = append(hi, max(hi[m.A], hi[m.B]))
			}
		}
	}
}

func TestAgglomeratePanics(t *testing.T) {
	for _, c := range []struct {
		name  string
		f     func()
		panic bool
	}{
		{"linkage", func() { Agglomerate(line(1, 2), nil, "single", false) }, true},
		{"sizes length", func() { Agglomerate(line(1, 2), []float64{1}, Average, false) }, true},
		{"zero size", func() { Agglomerate(line(1, 2), []float64{1, 0}, Average, false) }, true},
		{"NaN size", func() { Agglomerate(line(1, 2), []float64{math.NaN(), 1}, Ward, false) }, true},
		{"infinite size", func() { Agglomerate(line(1, 2), []float64{math.Inf(1), 1}, Ward, false) }, true},
		{"dimensions", func() { Agglomerate([][]float32{{1}, {1, 2}}, nil, Ward, true) }, true},
		{"valid", func() { Agglomerate(line(1, 2), []float64{1, 2}, Ward, true) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if r := recover(); (r != nil) != c.panic {
					t.Errorf("panic = %v, want panic %v", r, c.panic)
				}
			}()
			c.f()
		})
	}
}

func TestLabels(t *testing.T) {
	// Items 0..4; 5 = {1,3}, 6 = {0,4}, 7 = {1,3,2}, 8 = all.
	merges := []Merge{{1, 3, 0.5, 2}, {0, 4, 1, 2}, {2, 5, 2, 3}, {6, 7, 3, 5}}
	for _, c := range []struct {
		k    int
		want []int
	}{
		{5, []int{0, 1, 2, 3, 4}},
		{4, []int{0, 1, 2, 1, 3}},
		{3, []int{0, 1, 2, 1, 0}},
		{2, []int{0, 1, 1, 1, 0}},
		{1, []int{0, 0, 0, 0, 0}},
	} {
		if got := Labels(5, merges, c.k); !slices.Equal(got, c.want) {
			t.Errorf("Labels(k=%d) = %v, want %v", c.k, got, c.want)
		}
	}
	// The first cluster is the one of item 0 even when formed last.
	if got, want := Labels(3, []Merge{{1, 2, 1, 2}}, 2), []int{0, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("Labels = %v, want %v", got, want)
	}
	if got := Labels(0, nil, 0); len(got) != 0 {
		t.Errorf("Labels of no items = %v", got)
	}
}

func TestLabelsBelow(t *testing.T) {
	// Heights not monotone, as with adjacency: the cut stops at the first
	// height above the threshold even if later ones are below.
	merges := []Merge{{1, 2, 1, 2}, {3, 4, 3, 3}, {0, 5, 2, 4}}
	for _, c := range []struct {
		threshold float64
		want      []int
	}{
		{0.5, []int{0, 1, 2, 3}},
		{1, []int{0, 1, 1, 2}},
		{2.5, []int{0, 1, 1, 2}},
		{3, []int{0, 0, 0, 0}},
		{math.Inf(1), []int{0, 0, 0, 0}},
	} {
		if got := LabelsBelow(4, merges, c.threshold); !slices.Equal(got, c.want) {
			t.Errorf("LabelsBelow(%v) = %v, want %v", c.threshold, got, c.want)
		}
	}
}

func TestLabelsAgglomerate(t *testing.T) {
	// Two well separated groups, interleaved.
	points := line(0, 100, 1, 101, 2)
	merges := Agglomerate(points, nil, Average, false)
	if got, want := Labels(5, merges, 2), []int{0, 1, 0, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("Labels = %v, want %v", got, want)
	}
	if got, want := LabelsBelow(5, merges, 10), []int{0, 1, 0, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("LabelsBelow = %v, want %v", got, want)
	}
}

func TestLabelsPanics(t *testing.T) {
	merges := []Merge{{0, 1, 1, 2}, {2, 3, 2, 3}}
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"k zero", func() { Labels(3, merges, 0) }},
		{"k above n", func() { Labels(3, merges, 4) }},
		{"too few merges", func() { Labels(3, merges[:1], 1) }},
		{"same cluster", func() { Labels(3, []Merge{{1, 1, 0, 2}}, 2) }},
		{"future cluster", func() { Labels(3, []Merge{{0, 3, 0, 2}}, 2) }},
		{"negative", func() { Labels(3, []Merge{{-1, 0, 0, 2}}, 2) }},
		{"joined twice", func() { LabelsBelow(3, []Merge{{0, 1, 0, 2}, {1, 2, 0, 2}}, 1) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			c.f()
		})
	}
}

func TestBipartite(t *testing.T) {
	// Unprotected items 0..5: A = {0, 2, 4}, B = {1, 3, 5}. 0 is nearest
	// to 1 (cosine 1), 4 to 1 too (2/√5 ≈ 0.894), 2 to 3 (0.8).
	keys := [][]float32{{1, 0}, {2, 0}, {0, 3}, {3, 4}, {2, -1}, {0, -1}}
	for _, c := range []struct {
		name    string
		r       int
		protect []bool
		want    []int
	}{
		{"r=0", 0, nil, []int{0, 1, 2, 3, 4, 5}},
		{"r=1", 1, nil, []int{0, 0, 1, 2, 3, 4}},
		{"r=2", 2, nil, []int{0, 0, 1, 2, 0, 3}},
		{"r=3", 3, nil, []int{0, 0, 1, 1, 0, 2}},
		{"r above |A|", 10, nil, []int{0, 0, 1, 1, 0, 2}},
		// Protecting 1: A = {0, 3, 5}, B = {2, 4}. 0 matches 4 (0.894),
		// 3 matches 2 (0.8), 5 matches 4 (0.447; 2 gives −1).
		{"protect", 2, []bool{false, true, false, false, false, false}, []int{0, 1, 2, 2, 0, 3}},
		{"protect r above |A|", 5, []bool{false, true, false, false, false, false}, []int{0, 1, 2, 2, 0, 0}},
		{"all protected", 3, []bool{true, true, true, true, true, true}, []int{0, 1, 2, 3, 4, 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Bipartite(keys, c.r, c.protect); !slices.Equal(got, c.want) {
				t.Errorf("Bipartite = %v, want %v", got, c.want)
			}
		})
	}
}

func TestBipartiteTiesAndZeros(t *testing.T) {
	// Every similarity is 1: each item of A takes the first item of B, and
	// the earliest matches are merged first.
	same := [][]float32{{1, 1}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}
	if got, want := Bipartite(same, 2, nil), []int{0, 0, 0, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("ties: Bipartite = %v, want %v", got, want)
	}
	// A zero key has similarity 0: 0's match (1, similarity 0) ranks below
	// 2's (3, similarity 1).
	zero := [][]float32{{0, 0}, {1, 0}, {0, 1}, {0, 2}}
	if got, want := Bipartite(zero, 1, nil), []int{0, 1, 2, 2}; !slices.Equal(got, want) {
		t.Errorf("zero: Bipartite = %v, want %v", got, want)
	}
	// A single unprotected item has no B to join.
	if got, want := Bipartite(line(1), 1, nil), []int{0}; !slices.Equal(got, want) {
		t.Errorf("one: Bipartite = %v, want %v", got, want)
	}
	if got := Bipartite(nil, 1, nil); len(got) != 0 {
		t.Errorf("none: Bipartite = %v", got)
	}
}

func TestBipartiteZeroR(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	keys := randomPoints(rng, 17, 3)
	want := make([]int, len(keys))
	for i := range want {
		want[i] = i
	}
	if got := Bipartite(keys, 0, nil); !slices.Equal(got, want) {
		t.Errorf("Bipartite(r=0) = %v, want %v", got, want)
	}
}

func TestBipartitePanics(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"negative r", func() { Bipartite(line(1, 2), -1, nil) }},
		{"protect length", func() { Bipartite(line(1, 2), 1, []bool{true}) }},
		{"dimensions", func() { Bipartite([][]float32{{1}, {1, 2}}, 1, nil) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			c.f()
		})
	}
}

func BenchmarkAgglomerate(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{40, 512} {
		points := randomPoints(rng, n, 32)
		for _, link := range []Linkage{Average, Ward} {
			for _, adjacent := range []bool{false, true} {
				b.Run(fmt.Sprintf("n=%d/%s/adjacent=%v", n, link, adjacent), func(b *testing.B) {
					for b.Loop() {
						Agglomerate(points, nil, link, adjacent)
					}
				})
			}
		}
	}
}
