package distill

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
)

// tinyTeacher opens the embedded 2-layer, 32-wide tiny-random checkpoint.
func tinyTeacher(t *testing.T) (*loader.Checkpoint, *encoder.Model) {
	t.Helper()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(t.TempDir(), "cache"))
	ck, err := loader.Open("tiny-random")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	return ck, m
}

func TestBuildStudentFromSizes(t *testing.T) {
	_, teacher := tinyTeacher(t)
	s, err := BuildStudent(StudentConfig{Layers: 1, Hidden: 16, Heads: 2, FFN: 24}, teacher, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config
	if len(s.Layers) != 1 || c.HiddenSize != 16 || c.NumAttentionHeads != 2 || c.IntermediateSize != 24 || c.VocabSize != teacher.Config.VocabSize {
		t.Fatalf("student config %+v", c)
	}
	if r, k := kernels.Dims(s.Embeddings.WordEmbeddings); r != c.VocabSize || k != 16 {
		t.Fatalf("word embeddings %d×%d", r, k)
	}
	if v := kernels.Values(s.Layers[0].Attention.Self.Query.Weight); slices.Max(v) == 0 {
		t.Error("random init left the weights at zero")
	}
}

func TestBuildStudentFromTeacherLayers(t *testing.T) {
	_, teacher := tinyTeacher(t)
	s, err := BuildStudent(StudentConfig{Init: InitTeacherLayers, Every: 2}, teacher, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Layers) != 1 {
		t.Fatalf("%d layers, want 1", len(s.Layers))
	}
	// Every parameter of the student is the teacher's (layer 2 for layer 1).
	want := map[string][]float32{}
	for _, np := range teacher.NamedParams() {
		want[strings.Replace(np.Name, "encoder.layer.1.", "encoder.layer.0.", 1)] = kernels.Values(np.Param)
	}
	for _, np := range s.NamedParams() {
		if !slices.Equal(kernels.Values(np.Param), want[np.Name]) {
			t.Errorf("%s differs from the teacher's", np.Name)
		}
	}
	if _, err := BuildStudent(StudentConfig{Init: InitTeacherLayers, Every: 3}, teacher, 1); err == nil {
		t.Error("no error for every 3 of 2 layers")
	}
}

func TestBuildStudentFromCheckpointAndWrite(t *testing.T) {
	ck, teacher := tinyTeacher(t)
	s, err := BuildStudent(StudentConfig{Init: InitCheckpoint, Checkpoint: "tiny-random"}, teacher, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "student")
	if err := WriteCheckpoint(dir, s, ck.RawConfig, ck.Dir); err != nil {
		t.Fatal(err)
	}
	back, err := loader.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := back.Model()
	if err != nil {
		t.Fatal(err)
	}
	for i, np := range m.NamedParams() {
		if !slices.Equal(kernels.Values(np.Param), kernels.Values(teacher.NamedParams()[i].Param)) {
			t.Errorf("%s changed in the round trip", np.Name)
		}
	}
	if _, err := BuildStudent(StudentConfig{Init: "copy"}, teacher, 1); err == nil || !strings.Contains(err.Error(), "student.init") {
		t.Errorf("unknown init: %v", err)
	}
}
