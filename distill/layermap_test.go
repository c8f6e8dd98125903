package distill

import (
	"slices"
	"strings"
	"testing"
)

func TestUniformMap(t *testing.T) {
	for _, c := range []struct {
		student, teacher int
		want             []int
	}{
		{4, 12, []int{0, 3, 6, 9, 12}},
		{6, 12, []int{0, 2, 4, 6, 8, 10, 12}},
		{3, 4, []int{0, 1, 3, 4}}, // 1.33, 2.67, 4 rounded
		{2, 2, []int{0, 1, 2}},
	} {
		m := UniformMap(c.student, c.teacher)
		if !slices.Equal(m.Teacher, c.want) || len(m.Student) != c.student+1 {
			t.Errorf("UniformMap(%d, %d) = %v → %v, want teacher layers %v", c.student, c.teacher, m.Student, m.Teacher, c.want)
		}
		if !slices.Equal(m.Student, []int{0, 1, 2, 3, 4, 5, 6}[:c.student+1]) {
			t.Errorf("UniformMap(%d, %d) maps student layers %v", c.student, c.teacher, m.Student)
		}
	}
}

func TestRelativeLayer(t *testing.T) {
	for _, c := range []struct{ layer, from, to, want int }{
		{12, 12, 4, 4}, // the top stays the top
		{6, 12, 4, 2},
		{4, 12, 4, 1}, // 1.33
		{2, 12, 4, 1}, // 0.67, kept above the embeddings
		{0, 12, 4, 0},
		{1, 2, 6, 3},
	} {
		if got := RelativeLayer(c.layer, c.from, c.to); got != c.want {
			t.Errorf("RelativeLayer(%d, %d, %d) = %d, want %d", c.layer, c.from, c.to, got, c.want)
		}
	}
}

func TestParseLayerMapErrors(t *testing.T) {
	for _, c := range []struct {
		pairs [][2]int
		want  string
	}{
		{[][2]int{{5, 12}}, "student layer 5 does not exist"},
		{[][2]int{{1, 13}}, "teacher layer 13 does not exist"},
		{[][2]int{{0, 3}}, "embedding output"},
		{[][2]int{{-1, 3}}, "student layer -1"},
	} {
		_, err := ParseLayerMap(c.pairs, 4, 12)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.pairs, err, c.want)
		}
	}
	m, err := ParseLayerMap([][2]int{{0, 0}, {2, 7}}, 4, 12)
	if err != nil || !slices.Equal(m.Teacher, []int{0, 7}) {
		t.Errorf("valid map: %v, %v", m, err)
	}
	if s, te := m.Deepest(); s != 2 || te != 7 {
		t.Errorf("Deepest = %d, %d", s, te)
	}
	if err := CheckHeads(4, 12); err == nil || !strings.Contains(err.Error(), "4 and 12") {
		t.Errorf("CheckHeads(4, 12) = %v", err)
	}
}
