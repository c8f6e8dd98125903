package decode

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestIOB2Constraints(t *testing.T) {
	labels := []string{"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}
	c, err := IOB2Constraints(labels)
	if err != nil {
		t.Fatal(err)
	}
	wantStart := []bool{true, true, false, true, false}
	// wantTrans[i] lists the labels that may follow labels[i].
	wantTrans := [][]bool{
		{true, true, false, true, false}, // O
		{true, true, true, true, false},  // B-PER
		{true, true, true, true, false},  // I-PER
		{true, true, false, true, true},  // B-LOC
		{true, true, false, true, true},  // I-LOC
	}
	for j := range labels {
		if c.Start[j] != wantStart[j] || !c.End[j] {
			t.Errorf("%s: start %v end %v, want %v true", labels[j], c.Start[j], c.End[j], wantStart[j])
		}
		for i := range labels {
			if c.Trans[i][j] != wantTrans[i][j] {
				t.Errorf("%s → %s allowed = %v, want %v", labels[i], labels[j], c.Trans[i][j], wantTrans[i][j])
			}
		}
	}
}

func TestIOBESConstraints(t *testing.T) {
	labels := []string{"O", "B-X", "I-X", "E-X", "S-X", "B-Y", "E-Y"}
	c, err := IOBESConstraints(labels)
	if err != nil {
		t.Fatal(err)
	}
	// Every label sequence is allowed iff it is well-formed IOBES.
	for n := 1; n <= 4; n++ {
		for _, y := range sequences(n, len(labels)) {
			tags := make([]string, n)
			for t, j := range y {
				tags[t] = labels[j]
			}
			if got, want := allowed(c, y), wellFormedIOBES(tags); got != want {
				t.Fatalf("%v: allowed = %v, want %v", tags, got, want)
			}
		}
	}
}

// wellFormedIOBES reports whether tags is a sequence of O and entities,
// each S-T or B-T I-T… E-T.
func wellFormedIOBES(tags []string) bool {
	open := "" // type of the entity awaiting its E-, if any
	for _, tag := range tags {
		prefix, typ, _ := strings.Cut(tag, "-")
		switch prefix {
		case "O", "S":
			if open != "" {
				return false
			}
		case "B":
			if open != "" {
				return false
			}
			open = typ
		case "I", "E":
			if open != typ {
				return false
			}
			if prefix == "E" {
				open = ""
			}
		}
	}
	return open == ""
}

func TestViterbiNeverBreaksIOB2(t *testing.T) {
	labels := []string{"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}
	c, err := IOB2Constraints(labels)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		s := randomCRF(rng, 12, len(labels), false)
		// Push towards the forbidden: I- labels everywhere.
		for _, row := range s.emis {
			for j, l := range labels {
				if strings.HasPrefix(l, "I-") {
					row[j] += 3
				}
			}
		}
		y, err := Viterbi(s.emis, s.trans, s.start, s.end, c)
		if err != nil {
			t.Fatal(err)
		}
		for i, j := range y {
			prefix, typ, _ := strings.Cut(labels[j], "-")
			if prefix != "I" {
				continue
			}
			if i == 0 || labels[y[i-1]] != "B-"+typ && labels[y[i-1]] != "I-"+typ {
				t.Fatalf("seed %d: %v has %s at position %d", seed, y, labels[j], i)
			}
		}
	}
}

func TestConstraintsErrors(t *testing.T) {
	tests := []struct {
		name   string
		build  func([]string) (*Constraints, error)
		labels []string
	}{
		{"IOB2 empty", IOB2Constraints, nil},
		{"IOB2 E-", IOB2Constraints, []string{"O", "E-X"}},
		{"IOB2 no type", IOB2Constraints, []string{"O", "B-"}},
		{"IOB2 no hyphen", IOB2Constraints, []string{"O", "BX"}},
		{"IOB2 O-", IOB2Constraints, []string{"O-X"}},
		{"IOB2 lower case", IOB2Constraints, []string{"b-X"}},
		{"IOB2 duplicate", IOB2Constraints, []string{"O", "B-X", "O"}},
		{"IOBES L-", IOBESConstraints, []string{"O", "L-X"}},
		{"IOBES empty label", IOBESConstraints, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := tt.build(tt.labels); err == nil {
				t.Errorf("got %+v, want an error", c)
			}
		})
	}
}
