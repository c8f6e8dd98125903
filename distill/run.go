package distill

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/train"
)

// The parts of a job's run directory.
const (
	studentInitDir = "student-init"
	studentDir     = "student"
	cacheDir       = "teacher-cache"
	augmentedDir   = "augmented"
	generalName    = "general" // stage 1's final checkpoint
)

// StudentRun returns the run directory of a job's stage 2 student.
func StudentRun(output string) string { return filepath.Join(output, studentDir) }

// Run runs the distillation job cfg (whose YAML text is raw) in its run
// directory — a new job, the continuation of the one there, or that job
// started over, as mode says: the student is made, then stage 1 runs if configured, then stage 2.
// Progress goes to log. It returns train.ErrStopped after an interruption
// (ctx cancelled), once a checkpoint is saved.
func Run(ctx context.Context, cfg *Config, raw []byte, mode run.Mode, log io.Writer) error {
	if cfg.Threads > 0 {
		kernels.SetThreads(cfg.Threads)
	}
	log = train.Quiet(ctx, log)
	dir, err := train.OpenRun(ctx, cfg.Output, raw, mode)
	if err != nil {
		return err
	}
	defer dir.Close()
	var teachers []*teacher
	if cfg.Task != nil {
		if teachers, err = openTeachers(cfg, log); err != nil {
			return err
		}
	}
	from := filepath.Join(cfg.Output, studentInitDir)
	err = train.OnRankZero(train.World(ctx), "make the student", func() error {
		if _, err := os.Stat(filepath.Join(from, "config.json")); err == nil {
			return nil
		}
		return makeStudent(cfg, teachers, from, log)
	})
	if err != nil {
		return err
	}
	if cfg.General != nil {
		if from, err = runGeneral(ctx, cfg, dir, from, teachers, log); err != nil {
			return err
		}
	}
	if cfg.Task == nil {
		fmt.Fprintf(log, "general student: %s\n", from)
		return nil
	}
	return runTask(ctx, cfg, teachers, from, log)
}

// openTeachers opens the stage 2 teachers and assigns them their tasks.
func openTeachers(cfg *Config, log io.Writer) ([]*teacher, error) {
	runs := map[string][]string{} // run → tasks, nil for all of them
	if cfg.Teacher != "" {
		runs[cfg.Teacher] = nil
	}
	var order []string
	for task, r := range cfg.Teachers {
		runs[r] = append(runs[r], task)
	}
	for r := range runs {
		order = append(order, r)
	}
	sort.Strings(order)
	var out []*teacher
	for _, r := range order {
		tcfg, err := finetune.ReadRunConfig(r)
		if err != nil {
			return nil, fmt.Errorf("teacher %s: %w", r, err)
		}
		m, err := finetune.Open(r, cfg.TeacherCheckpoint)
		if err != nil {
			return nil, fmt.Errorf("teacher %s: %w", r, err)
		}
		if m.Pairs() != nil {
			return nil, fmt.Errorf("teacher %s: a teacher with pair states (pairs:) is not supported by distillation yet", r)
		}
		m.Encoder.PrepareInference() // a teacher is not trained
		t := &teacher{run: r, m: m, cfg: tcfg}
		tasks := runs[r]
		for _, tc := range m.Config.Tasks {
			if tasks == nil || slices.Contains(tasks, tc.Name) {
				t.tasks = append(t.tasks, tc.Name)
			}
		}
		for _, name := range tasks {
			if !slices.Contains(t.tasks, name) {
				return nil, fmt.Errorf("teachers.%s: the run %s has no task %q", name, r, name)
			}
		}
		if c := m.Config; c.WordPooling != nil || c.DepthMixing != "" {
			return nil, fmt.Errorf("teacher %s: distillation does not support word pooling or depth mixing in the teacher", r)
		}
		out = append(out, t)
		fmt.Fprintf(log, "teacher %s: %d layers, hidden %d, tasks %v\n", r, len(m.Encoder.Layers), m.Encoder.Config.HiddenSize, t.tasks)
	}
	for _, t := range out[1:] {
		if a, b := out[0].m.Encoder.Config.VocabSize, t.m.Encoder.Config.VocabSize; a != b {
			return nil, fmt.Errorf("teachers %s and %s have vocabularies of %d and %d tokens: the student reads one tokenization", out[0].run, t.run, a, b)
		}
	}
	return out, nil
}

// makeStudent builds the student's first encoder into dir: from the stage
// 1 teacher when there is one, else the first stage 2 teacher.
func makeStudent(cfg *Config, teachers []*teacher, dir string, log io.Writer) error {
	var base *encoder.Model
	var ck *loader.Checkpoint
	if g := cfg.General; g != nil {
		var err error
		if ck, err = loader.Open(generalTeacher(cfg, teachers)); err != nil {
			return err
		}
		if base, err = ck.Model(); err != nil {
			return err
		}
	} else {
		base = teachers[0].m.Encoder
	}
	for _, t := range teachers {
		if a, b := base.Config.VocabSize, t.m.Encoder.Config.VocabSize; a != b {
			return fmt.Errorf("the stage 1 teacher has %d tokens, the teacher %s %d: the student reads one tokenization", a, t.run, b)
		}
	}
	s, err := BuildStudent(cfg.Student, base, cfg.Seed)
	if err != nil {
		return err
	}
	c := s.Config
	fmt.Fprintf(log, "student (%s): %d layers, hidden %d, %d heads, FFN %d; %d parameters\n", cfg.Student.Init,
		c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize, countParams(s))
	if ck != nil {
		return WriteCheckpoint(dir, s, ck.RawConfig, ck.Dir)
	}
	return WriteCheckpoint(dir, s, teachers[0].m.RawConfig(), teachers[0].m.TokenizerDir())
}

// generalTeacher returns the checkpoint stage 1 learns from.
func generalTeacher(cfg *Config, teachers []*teacher) string {
	if cfg.General.Teacher != "" || len(teachers) == 0 {
		return cfg.General.Teacher
	}
	return teachers[0].m.Config.Model
}

func countParams(m *encoder.Model) int {
	n := 0
	for _, np := range m.NamedParams() {
		n += len(kernels.Values(np.Param))
	}
	return n
}

// studentConfig returns the fine-tuning configuration of the stage 2
// student that starts from the encoder in from: the teachers' datasets
// (or the job's) and tasks, each task at the student layer of the same
// relative depth as its teacher's (or as task_layers says), with the job's
// training and evaluation settings.
func studentConfig(cfg *Config, teachers []*teacher, from string) (*finetune.Config, []byte, error) {
	ec, _, err := loader.ReadConfig(filepath.Join(from, "config.json"))
	if err != nil {
		return nil, nil, err
	}
	first := teachers[0].cfg
	sc := &finetune.Config{
		Output: StudentRun(cfg.Output),
		Config: model.Config{
			Model:         from,
			Dropout:       first.Dropout,
			MaxLength:     first.MaxLength,
			Stride:        first.Stride,
			MaxWords:      first.MaxWords,
			LongSentences: first.LongSentences,
			Datasets:      map[string]datasets.Config{},
		},
		Sampling:            cfg.Task.Sampling,
		SamplingTemperature: cfg.Task.SamplingTemperature,
		Train:               cfg.Task.Train,
	}
	// Each phase in steps or in epochs (validated): their sum is the run.
	a, b := cfg.Task.Intermediate, cfg.Task.Prediction
	sc.Train.Steps, sc.Train.Epochs = a.Steps+b.Steps, a.Epochs+b.Epochs
	sc.Train.Seed = cfg.Seed
	if sc.Train.Threads == 0 {
		sc.Train.Threads = cfg.Threads
	}
	used := map[string]bool{}
	for _, t := range teachers {
		tc := t.m.Config
		for _, task := range tc.Tasks {
			if !slices.Contains(t.tasks, task.Name) {
				continue
			}
			if used[task.Name] {
				return nil, nil, fmt.Errorf("task %s is taught by two teachers", task.Name)
			}
			used[task.Name] = true
			if task.Mix.Mode != "" {
				return nil, nil, fmt.Errorf("teacher %s: task %s reads a mix of layers, which the hierarchical layer map cannot place in the student", t.run, task.Name)
			}
			l := RelativeLayer(t.m.Task(task.Name).Layer, len(t.m.Encoder.Layers), ec.NumHiddenLayers)
			if set, ok := cfg.Task.TaskLayers[task.Name]; ok {
				l = set
			}
			if l < 0 || l > ec.NumHiddenLayers {
				return nil, nil, fmt.Errorf("task_layers.%s: layer %d does not exist in the %d-layer student", task.Name, l, ec.NumHiddenLayers)
			}
			task.Layer = l
			if mix, ok := cfg.Task.TaskMixes[task.Name]; ok {
				task.Mix = mix
			}
			sc.Tasks = append(sc.Tasks, task)
			d, ok := cfg.Datasets[task.Dataset]
			if !ok {
				d = tc.Datasets[task.Dataset]
			}
			sc.Datasets[task.Dataset] = d
		}
	}
	// An unset selection is the first teacher's, if its dataset is the
	// student's.
	if ds, _, ok := strings.Cut(first.Train.Select, "."); ok && sc.Train.Select == "" && sc.Datasets[ds].Format != "" {
		sc.Train.Select = first.Train.Select
	}
	for name := range cfg.Task.TaskLayers {
		if !used[name] {
			return nil, nil, fmt.Errorf("task_layers.%s: no teacher has this task", name)
		}
	}
	for name := range cfg.Task.TaskMixes {
		if !used[name] {
			return nil, nil, fmt.Errorf("task_mixes.%s: no teacher has this task", name)
		}
	}
	sc.WordPooling = cfg.Task.WordPooling
	sc.Hierarchy = cfg.Task.Hierarchy
	raw, err := yaml.Marshal(sc)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := finetune.ParseConfig(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("the student's configuration: %w", err)
	}
	// The run keeps the configuration as resolved, defaults filled in.
	if raw, err = yaml.Marshal(parsed); err != nil {
		return nil, nil, err
	}
	return parsed, raw, nil
}

// runTask runs stage 2: a fine-tuning run of the student with the
// distillation hook, resumed if it has a checkpoint.
func runTask(ctx context.Context, cfg *Config, teachers []*teacher, from string, log io.Writer) error {
	if cfg.Task.Augment.Factor > 0 {
		var err error
		if cfg, err = augment(cfg, teachers, log); err != nil {
			return err
		}
	}
	sc, raw, err := studentConfig(cfg, teachers, from)
	if err != nil {
		return err
	}
	h := &taskHook{cfg: cfg.Task, seed: cfg.Seed, teachers: teachers, byTask: map[string]*teacher{}, byDataset: map[string]*teacher{}}
	for _, t := range teachers {
		for _, name := range t.tasks {
			h.byTask[name] = t
		}
	}
	for _, task := range sc.Tasks {
		if _, ok := h.byDataset[task.Dataset]; !ok {
			h.byDataset[task.Dataset] = h.byTask[task.Name]
		}
	}
	if *cfg.Task.Cache {
		id := fmt.Sprintf("%s@%s %v", cfg.Teacher, cfg.TeacherCheckpoint, cfg.Teachers)
		if h.cache, err = OpenCache(filepath.Join(cfg.Output, cacheDir), id); err != nil {
			return err
		}
		defer h.cache.Close()
	}
	out := sc.Output
	// The student run continues where it stopped; one stopped before its
	// first checkpoint (or not begun) starts over.
	mode := run.Over
	if _, err := os.Stat(filepath.Join(out, "latest")); err == nil {
		mode = run.Continue
	}
	fmt.Fprintf(log, "stage 2: task-specific distillation into %s\n", out)
	return finetune.Run(ctx, sc, raw, mode, log, h)
}

// augment writes the augmented training sets of the student's datasets and
// returns the job with its datasets reading them.
func augment(cfg *Config, teachers []*teacher, log io.Writer) (*Config, error) {
	ac := cfg.Task.Augment
	ref := ac.Model
	if ref == "" {
		ref = teachers[0].m.Config.Model
	}
	a, err := newAugmenter(ac, ref)
	if err != nil {
		return nil, err
	}
	if a.enc.Config.VocabSize != teachers[0].m.Encoder.Config.VocabSize {
		return nil, fmt.Errorf("task.augment.model %s: %d tokens, the teacher %d", ref, a.enc.Config.VocabSize, teachers[0].m.Encoder.Config.VocabSize)
	}
	out := *cfg
	out.Datasets = map[string]datasets.Config{}
	for _, t := range teachers {
		tc := t.m.Config
		for _, task := range tc.Tasks {
			if !slices.Contains(t.tasks, task.Name) {
				continue
			}
			if _, done := out.Datasets[task.Dataset]; done {
				continue
			}
			d, ok := cfg.Datasets[task.Dataset]
			if !ok {
				d = tc.Datasets[task.Dataset]
			}
			if out.Datasets[task.Dataset], err = a.augmentDataset(task.Dataset, d, filepath.Join(cfg.Output, augmentedDir), cfg.Seed, log); err != nil {
				return nil, err
			}
		}
	}
	return &out, nil
}
