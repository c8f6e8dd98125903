package tensor

import (
	"math"
	"strings"
	"testing"
)

func TestHalfRoundTrip(t *testing.T) {
	// Every finite half value survives half -> float32 -> half.
	for h := 0; h < 1<<16; h++ {
		f := HalfToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := Float32ToHalf(f); got != uint16(h) {
			t.Fatalf("half %#04x -> %g -> %#04x", h, f, got)
		}
	}
}

func TestHalfKnownValues(t *testing.T) {
	cases := map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.960464477539063e-08, 0x3555: 0.333251953125}
	for h, want := range cases {
		if got := HalfToFloat32(h); got != want {
			t.Errorf("HalfToFloat32(%#04x) = %g, want %g", h, got, want)
		}
	}
	if got := Float32ToHalf(1e6); got != 0x7c00 {
		t.Errorf("overflow gave %#04x, want +Inf", got)
	}
}

func TestBF16(t *testing.T) {
	for _, f := range []float32{1, -2.5, 3.140625, 1e-30} {
		tt, err := New(BF16, []int{1}, []byte{byte(Float32ToBF16(f)), byte(Float32ToBF16(f) >> 8)})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := tt.Float32()
		if rel := math.Abs(float64(v[0]-f)) / math.Abs(float64(f)); rel > 1.0/128 {
			t.Errorf("bf16(%g) = %g", f, v[0])
		}
	}
	// Rounding to nearest even: 1 + 2^-8 is halfway between 1 and 1+2^-7.
	if got := Float32ToBF16(1 + 1.0/256); got != 0x3f80 {
		t.Errorf("tie rounded to %#04x, want 0x3f80", got)
	}
}

func TestNewChecksLength(t *testing.T) {
	if _, err := New(F32, []int{2, 3}, make([]byte, 23)); err == nil {
		t.Fatal("expected a length error")
	}
	if _, err := New("Q4", []int{1}, nil); err == nil {
		t.Fatal("expected an unknown-dtype error")
	}
	if _, err := New(F32, []int{-1}, nil); err == nil {
		t.Fatal("expected a shape error")
	}
	if _, err := New(F32, []int{math.MaxInt / 2, 4}, nil); err == nil {
		t.Fatal("expected an overflow error")
	}
}

func TestConversions(t *testing.T) {
	f := FromFloat32([]int{3}, []float32{1.5, -2, 0})
	v, err := f.Float32()
	if err != nil || v[0] != 1.5 || v[1] != -2 || v[2] != 0 {
		t.Fatalf("Float32 = %v, %v", v, err)
	}
	if _, err := f.Int64(); err == nil {
		t.Fatal("Int64 of a float tensor should fail")
	}
	i := FromInt64([]int{2}, []int64{-7, 1 << 40})
	w, err := i.Int64()
	if err != nil || w[0] != -7 || w[1] != 1<<40 {
		t.Fatalf("Int64 = %v, %v", w, err)
	}
}

// TestNumBytesOverflow guards against sizes that wrap around: a shape whose
// byte count overflows must be an error that says so, never a negative or
// small count (such as the -4 bytes of F32[2147483649 2147483647]).
func TestNumBytesOverflow(t *testing.T) {
	for _, tc := range []struct {
		dtype DType
		shape []int
		want  int
		err   string
	}{
		{F32, []int{2, 3}, 24, ""},
		{F16, nil, 2, ""},
		{F32, []int{1 << 62, 1 << 62, 0}, 0, ""}, // empty, however large the other dimensions
		{F32, []int{2147483649, 2147483647}, 0, "F32[2147483649 2147483647] is too large: its size in bytes overflows"},
		{I64, []int{1 << 60}, 0, "I64[1152921504606846976] is too large"},
		{F32, []int{math.MaxInt / 2, 4}, 0, "too large"},
		{F32, []int{3, -1}, 0, "shape [3 -1] has a negative dimension"},
		{"Q4", []int{1}, 0, `unknown dtype "Q4"`},
	} {
		got, err := NumBytes(tc.dtype, tc.shape)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("NumBytes(%s, %v) = %d, %v; want %d", tc.dtype, tc.shape, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("NumBytes(%s, %v) = %d, %v; want an error saying %q", tc.dtype, tc.shape, got, err, tc.err)
		}
	}
	// New reports the same cause rather than a byte count.
	if _, err := New(F32, []int{2147483649, 2147483647}, make([]byte, 8)); err == nil || strings.Contains(err.Error(), "needs -") || !strings.Contains(err.Error(), "too large") {
		t.Errorf("New error = %v, want it to say the shape is too large", err)
	}
	empty, err := New(F32, []int{1 << 62, 1 << 62, 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := empty.Float32(); err != nil || len(v) != 0 {
		t.Errorf("empty tensor: %v, %v", v, err)
	}
}

// TestConversionsCheckLength guards the conversions of a Tensor built as a
// literal, whose data may not match its shape: an error, not an index out
// of range.
func TestConversionsCheckLength(t *testing.T) {
	short := &Tensor{DType: F32, Shape: []int{2, 2}, Data: make([]byte, 12)}
	if _, err := short.Float32(); err == nil || !strings.Contains(err.Error(), "F32[2 2] needs 16 bytes, have 12") {
		t.Errorf("Float32 error = %v", err)
	}
	if err := short.CopyTo(make([]float32, 4), []int{2, 2}); err == nil {
		t.Error("CopyTo accepted short data")
	}
	ids := &Tensor{DType: I64, Shape: []int{3}, Data: make([]byte, 8)}
	if _, err := ids.Int64(); err == nil || !strings.Contains(err.Error(), "I64[3] needs 24 bytes, have 8") {
		t.Errorf("Int64 error = %v", err)
	}
}
