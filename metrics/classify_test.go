package metrics

import (
	"errors"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name       string
		gold, pred string // labels, space-separated
		positive   string
		accuracy   float64
		correct    int
		macroF1    float64
		perClass   map[string][3]int // TP, FP, FN
		binaryF1   float64
	}{
		{
			// MRPC-like: "1" has TP 2, FP 1, FN 1 (P = R = F1 = 2/3); "0" has
			// TP 1, FP 1, FN 1 (1/2).
			name: "binary", gold: "1 1 0 0 1", pred: "1 0 0 1 1", positive: "1",
			accuracy: 3.0 / 5, correct: 3, macroF1: (2.0/3 + 0.5) / 2,
			perClass: map[string][3]int{"1": {2, 1, 1}, "0": {1, 1, 1}},
			binaryF1: 2.0 / 3,
		},
		{
			// The unknown label z is wrong and a class of its own (F1 0);
			// a and b have F1 2/3, c 0: macro-F1 (2/3 + 2/3) / 4.
			name: "unknown predicted label", gold: "a b c a", pred: "a b z b",
			accuracy: 0.5, correct: 2, macroF1: 1.0 / 3,
			perClass: map[string][3]int{"a": {1, 0, 1}, "b": {1, 1, 0}, "c": {0, 0, 1}, "z": {0, 1, 0}},
		},
		{
			name: "all right", gold: "x y", pred: "x y", positive: "y",
			accuracy: 1, correct: 2, macroF1: 1,
			perClass: map[string][3]int{"x": {1, 0, 0}, "y": {1, 0, 0}},
			binaryF1: 1,
		},
		{
			// The positive label is never predicted: F1 0, not NaN.
			name: "positive never predicted", gold: "pos neg", pred: "neg neg", positive: "pos",
			accuracy: 0.5, correct: 1, macroF1: (0 + 2.0/3) / 2,
			perClass: map[string][3]int{"pos": {0, 0, 1}, "neg": {1, 1, 0}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Classify(strings.Fields(c.gold), strings.Fields(c.pred), c.positive)
			if err != nil {
				t.Fatal(err)
			}
			n := len(strings.Fields(c.gold))
			if !near(s.Accuracy, c.accuracy) || s.Correct != c.correct || s.Total != n || !near(s.MacroF1, c.macroF1) {
				t.Errorf("accuracy %v (%d/%d), macro-F1 %v; want %v (%d/%d), %v",
					s.Accuracy, s.Correct, s.Total, s.MacroF1, c.accuracy, c.correct, n, c.macroF1)
			}
			if len(s.PerClass) != len(c.perClass) {
				t.Errorf("classes %v, want %v", s.PerClass, c.perClass)
			}
			for label, want := range c.perClass {
				if got := s.PerClass[label]; got != newPRF(want[0], want[1], want[2]) {
					t.Errorf("%s: %+v, want counts %v", label, got, want)
				}
			}
			if s.Positive != c.positive || !near(s.Binary.F1, c.binaryF1) {
				t.Errorf("positive %q F1 %v, want %q %v", s.Positive, s.Binary.F1, c.positive, c.binaryF1)
			}
			if c.positive != "" && s.Binary != s.PerClass[c.positive] {
				t.Errorf("Binary %+v, PerClass %+v", s.Binary, s.PerClass[c.positive])
			}
		})
	}
}

func TestNewPRF(t *testing.T) {
	got := newPRF(3, 1, 2)
	want := PRF{Precision: 0.75, Recall: 0.6, F1: 2 * 0.75 * 0.6 / 1.35, TP: 3, FP: 1, FN: 2, Support: 5}
	if !near(got.F1, want.F1) || got.Precision != want.Precision || got.Recall != want.Recall ||
		got.TP != 3 || got.FP != 1 || got.FN != 2 || got.Support != 5 {
		t.Errorf("newPRF(3, 1, 2) = %+v, want %+v", got, want)
	}
	if z := newPRF(0, 0, 0); z != (PRF{}) {
		t.Errorf("newPRF(0, 0, 0) = %+v, want zeros", z)
	}
}

func TestClassifyErrors(t *testing.T) {
	for _, c := range []struct {
		name       string
		gold, pred []string
		positive   string
		is         error
		msg        string
	}{
		{"empty", nil, nil, "", ErrEmpty, "no labels"},
		{"lengths", []string{"a", "b"}, []string{"a"}, "", ErrShape, "2 gold labels, 1 predicted"},
		{"unknown positive", []string{"0", "1"}, []string{"0", "1"}, "pos", nil, `positive label "pos" occurs in neither`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Classify(c.gold, c.pred, c.positive)
			if err == nil {
				t.Fatal("no error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
		})
	}
}
