package distill

import (
	"math"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

func leaf(rows, cols int, v ...float32) *kernels.Matrix {
	m := kernels.NewMatrix(rows, cols, v)
	m.SetRequiresGrad(true)
	return m
}

// lossAndGrad runs a loss, checks its value, back-propagates and returns
// the gradient of x.
func lossAndGrad(t *testing.T, name string, x *kernels.Matrix, loss mat.Tensor, err error, want float64) []float32 {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if got := float64(kernels.Values(loss)[0]); math.Abs(got-want) > 1e-5 {
		t.Errorf("%s = %.6f, want %.6f", name, got, want)
	}
	if err := kernels.Backward(loss); err != nil {
		t.Fatal(err)
	}
	return kernels.Values(x.Grad())
}

func near(t *testing.T, name string, got []float32, want ...float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-5 {
			t.Errorf("%s[%d] = %.6f, want %.6f", name, i, got[i], want[i])
		}
	}
}

func TestMSE(t *testing.T) {
	s := leaf(3, 2, 1, 2, 3, 4, 5, 6)
	// Differences 1, 0 | 0, 2 | (row 3 is padding): (1 + 4) / 4.
	l, err := MSE(s, []float32{0, 2, 3, 2, 0, 0}, []bool{true, true, false})
	g := lossAndGrad(t, "mse", s, l, err, 1.25)
	near(t, "mse gradient", g, 0.5, 0, 0, 1, 0, 0) // 2(s − t)/4
	if _, err := MSE(s, []float32{1, 2}, nil); err == nil {
		t.Error("no error for a teacher of another size")
	}
}

// The hidden-state loss of a narrower student goes through a learned
// projection to the teacher's width: here [1 1] maps (1, 2) to 3.
func TestMSEThroughProjection(t *testing.T) {
	proj := encoder.NewLinear(2, 1)
	copy(kernels.Values(proj.Weight), []float32{1, 1})
	s := leaf(1, 2, 1, 2)
	l, err := MSE(proj.Forward(s), []float32{1}, nil)
	g := lossAndGrad(t, "projected mse", s, l, err, 4) // (3 − 1)²
	near(t, "student gradient", g, 4, 4)               // 2·(3 − 1)·W
	near(t, "projection gradient", kernels.Values(proj.Weight.Grad()), 4, 8)
}

func TestAttentionMSEExcludesPadding(t *testing.T) {
	// One sequence of 3 positions, the last padding, 2 heads: the scores
	// of padded queries and keys do not count.
	s := leaf(6, 3,
		3, 100, 100, // head 0, query 0
		2, 1, 100, // head 0, query 1
		100, 100, 100, // head 0, padded query
		0, 0, 100, // head 1
		1, 1, 100,
		100, 100, 100)
	teacher := []float32{
		1, 0, 0,
		2, 1, 0,
		0, 0, 0,
		0, 0, 0,
		1, -1, 0,
		0, 0, 0,
	}
	// Squared differences counted: 4, 10000 | 0, 0 | 0, 0 | 0, 4.
	l, err := AttentionMSE(s, teacher, []int64{1, 1, 0}, 1, 3)
	g := lossAndGrad(t, "attention mse", s, l, err, 10008.0/8)
	near(t, "gradient of head 0 query 0", g[:3], 0.5, 25, 0)
	near(t, "gradient of head 1 query 1", g[12:15], 0, 0.5, 0)
	if _, err := AttentionMSE(s, teacher[:9], []int64{1, 1, 0}, 1, 3); err == nil || !strings.Contains(err.Error(), "heads") {
		t.Errorf("a teacher with other heads: error %v, want one naming the heads", err)
	}
}

func TestSoftCrossEntropy(t *testing.T) {
	ln3 := float32(math.Log(3))
	for _, c := range []struct {
		T        float64
		want     float64
		gradient float64
	}{
		// T = 1: −½(ln ¾ + ln ¼); gradient ¾ − ½.
		{1, -0.5 * (math.Log(0.75) + math.Log(0.25)), 0.25},
		// T = 2: the student's probabilities are √3/(1+√3) and 1/(1+√3);
		// the gradient is divided by T.
		{2, -0.5 * (math.Log(math.Sqrt(3)/(1+math.Sqrt(3))) + math.Log(1/(1+math.Sqrt(3)))), (math.Sqrt(3)/(1+math.Sqrt(3)) - 0.5) / 2},
	} {
		s := leaf(1, 2, ln3, 0)
		l, err := SoftCrossEntropy(s, []float32{0, 0}, c.T)
		g := lossAndGrad(t, "soft cross-entropy", s, l, err, c.want)
		near(t, "soft cross-entropy gradient", g, c.gradient, -c.gradient)
	}
	// Two rows: the mean. The teacher (ln 3, 0) gives targets ¾, ¼; a
	// uniform student then costs ln 2 whatever the targets.
	s := leaf(2, 2, 0, 0, 0, 0)
	l, err := SoftCrossEntropy(s, []float32{ln3, 0, 0, ln3}, 1)
	g := lossAndGrad(t, "soft cross-entropy of two rows", s, l, err, math.Ln2)
	near(t, "gradient of two rows", g, -0.125, 0.125, 0.125, -0.125) // (½ − ¾)/2
	if _, err := SoftCrossEntropy(s, []float32{0, 0, 0, 0}, 0); err == nil {
		t.Error("no error for temperature 0")
	}
}

func TestSoftBinaryCrossEntropy(t *testing.T) {
	s := leaf(1, 2, float32(math.Log(3)), 0)
	// σ(ln 3) = ¾ against ½: −½(ln ¾ + ln ¼); σ(0) = ½ against σ(ln 3) = ¾:
	// −(¾ ln ½ + ¼ ln ½) = ln 2. Mean of the two.
	want := (-0.5*(math.Log(0.75)+math.Log(0.25)) + math.Ln2) / 2
	l, err := SoftBinaryCrossEntropy(s, []float32{0, float32(math.Log(3))}, 1)
	g := lossAndGrad(t, "soft binary cross-entropy", s, l, err, want)
	near(t, "soft binary cross-entropy gradient", g, 0.25/2, -0.25/2)
}
