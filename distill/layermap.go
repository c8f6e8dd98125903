package distill

import (
	"fmt"
	"math"
)

// A LayerMap says which teacher hidden state each student hidden state
// learns from: Student[i] matches Teacher[i]. Hidden state 0 is the
// embedding output and i the output of layer i, as in encoder.Result.
type LayerMap struct {
	Student, Teacher []int
}

// UniformMap maps student layer j of S to teacher layer j·T/S (rounded),
// and the embeddings to the embeddings: TinyBERT's uniform strategy, which
// for T = 12, S = 4 pairs layers 3, 6, 9 and 12 with 1..4.
func UniformMap(student, teacher int) LayerMap {
	var m LayerMap
	for j := 0; j <= student; j++ {
		m.Student = append(m.Student, j)
		m.Teacher = append(m.Teacher, RelativeLayer(j, student, teacher))
	}
	return m
}

// ParseLayerMap reads a configured map: pairs [student, teacher] of hidden
// states. An empty list gives the uniform map.
func ParseLayerMap(pairs [][2]int, student, teacher int) (LayerMap, error) {
	if len(pairs) == 0 {
		return UniformMap(student, teacher), nil
	}
	var m LayerMap
	for i, p := range pairs {
		m.Student, m.Teacher = append(m.Student, p[0]), append(m.Teacher, p[1])
		if err := m.check(i, student, teacher); err != nil {
			return LayerMap{}, err
		}
	}
	return m, nil
}

func (m LayerMap) check(i, student, teacher int) error {
	s, t := m.Student[i], m.Teacher[i]
	switch {
	case s < 0 || s > student:
		return fmt.Errorf("layer_map[%d]: student layer %d does not exist (the student has hidden states 0..%d)", i, s, student)
	case t < 0 || t > teacher:
		return fmt.Errorf("layer_map[%d]: teacher layer %d does not exist (the teacher has hidden states 0..%d)", i, t, teacher)
	case (s == 0) != (t == 0):
		return fmt.Errorf("layer_map[%d]: the embedding output (0) maps only to the embedding output, not %d → %d", i, s, t)
	}
	return nil
}

// Deepest returns the deepest student and teacher hidden states the map
// reads.
func (m LayerMap) Deepest() (student, teacher int) {
	for i := range m.Student {
		student, teacher = max(student, m.Student[i]), max(teacher, m.Teacher[i])
	}
	return student, teacher
}

// RelativeLayer returns the layer of a to-layer encoder at the same
// relative depth as layer of a from-layer encoder: round(layer·to/from).
// A task reading layer 2 of 12 reads layer 1 of 4 (rounded up from 0.67),
// one at the top reads the top. Only the embedding output maps to 0: a
// layer above it keeps at least one layer below it.
func RelativeLayer(layer, from, to int) int {
	if layer <= 0 || from <= 0 {
		return 0
	}
	return max(1, int(math.Round(float64(layer)*float64(to)/float64(from))))
}

// CheckHeads checks that attention scores can be compared: the losses on
// them need the same number of heads in both models.
func CheckHeads(student, teacher int) error {
	if student != teacher {
		return fmt.Errorf("the attention loss needs the same number of heads in student and teacher: %d and %d (set its weight to 0, or give the student %d heads)", student, teacher, teacher)
	}
	return nil
}
