package loader

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

// TestGrowComputesTheScheme checks that a grown encoder, before any
// training, runs the layers its scheme names: the state after grown layer j
// is the original layer pick(j) applied to the state before it.
func TestGrowComputesTheScheme(t *testing.T) {
	dir, err := checkpoints.Dir("tiny-random")
	if err != nil {
		t.Fatal(err)
	}
	orig := mustModel(t, dir)
	old := orig.Config.NumHiddenLayers
	b := &encoder.Batch{Size: 2, Seq: 6, InputIDs: []int{101, 7592, 2088, 2003, 102, 0, 101, 2023, 2003, 1037, 3231, 102},
		AttentionMask: []int64{1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1}}
	mask := kernels.NewMask(b.Size, b.Seq, b.AttentionMask)
	for scheme, pick := range GrowSchemes {
		t.Run(scheme, func(t *testing.T) {
			ck, err := Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := ck.Grow(3*old, scheme); err != nil {
				t.Fatal(err)
			}
			m, err := ck.Model()
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Layers) != 3*old {
				t.Fatalf("%d layers, want %d", len(m.Layers), 3*old)
			}
			res, err := m.Forward(b, encoder.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var order []int
			for j := range m.Layers {
				src := pick(j, old, 3*old)
				order = append(order, src)
				want, _, _ := orig.Layers[src].Forward(res.HiddenStates[j], mask, nil, false)
				got := res.HiddenStates[j+1]
				if d := maxAbsDiff(kernels.Values(got), kernels.Values(want)); d > 1e-6 {
					t.Errorf("layer %d: max |Δ| %g from original layer %d applied to its input", j, d, src)
				}
			}
			wantOrder := map[string][]int{"stack": {0, 1, 0, 1, 0, 1}, "interleave": {0, 0, 0, 1, 1, 1}}[scheme]
			if old == 2 && !slices.Equal(order, wantOrder) {
				t.Errorf("layer order %v, want %v", order, wantOrder)
			}
		})
	}
}

func TestGrowErrors(t *testing.T) {
	dir, err := checkpoints.Dir("tiny-random")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		layers int
		scheme string
		want   string
	}{{4, "mirror", "unknown scheme"}, {3, "stack", "not a multiple"}, {2, "stack", "not a multiple"}, {1, "stack", "not a multiple"}} {
		ck, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := ck.Grow(c.layers, c.scheme); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Grow(%d, %q) = %v, want an error containing %q", c.layers, c.scheme, err, c.want)
		}
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}
