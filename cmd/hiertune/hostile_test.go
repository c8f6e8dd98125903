package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// hostileCase is one run of the hiertune binary on bad input: it must exit
// with status 1 and a one-line message on stderr.
type hostileCase struct {
	name string
	// args are the command's arguments; "{dir}" stands for the directory
	// testdata/hostile/make.sh wrote its files to.
	args []string
	// setup, if set, prepares more input in dir before the run.
	setup func(t *testing.T, dir string)
	// want is a part of the message, such as the file and key it names.
	want string
	// logs says the command prints progress before it fails: the message
	// is then its last line.
	logs bool
}

// hostileCases are the hostile inputs. Add cases for other commands (bad
// job configs, bad data) here, with their files from make.sh or setup.
var hostileCases = []hostileCase{
	encodeCase("huge-hidden", `huge-hidden/config.json: hidden_size is 1000000000, but tensor "embeddings.word_embeddings.weight"`),
	encodeCase("huge-vocab", "huge-vocab/config.json: vocab_size is 1000000000000, but tensor"),
	encodeCase("huge-layers", "huge-layers/config.json: num_hidden_layers is 1000000000, but the weights have 1 layer"),
	encodeCase("huge-positions", "huge-positions/config.json: model too large for the memory available: max_position_embeddings 1000000000000"),
	encodeCase("zero-heads", "zero-heads/config.json: num_attention_heads must be positive, got 0"),
	encodeCase("heads-not-dividing", "heads-not-dividing/config.json: hidden_size 4 is not a multiple of num_attention_heads 3"),
	encodeCase("negative-eps", "negative-eps/config.json: layer_norm_eps must be a positive float32"),
	encodeCase("nan-eps", "nan-eps/config.json: not a JSON object: line 1, column 203: invalid character 'N'"),
	encodeCase("float-size", "float-size/config.json: hidden_size: want an integer, got 1e9"),
	encodeCase("not-json", "not-json/config.json: not a JSON object"),
	encodeCase("truncated-safetensors", "truncated-safetensors/model.safetensors: header length 176 runs past the end"),
	encodeCase("overflow-safetensors", `overflow-safetensors/model.safetensors: tensor "embeddings.word_embeddings.weight": F32[2147483649 2147483647] is too large`),
	encodeCase("two-shards", "is in both model-00001-of-00002.safetensors and model-00002-of-00002.safetensors"),
	encodeCase("onnx-symlink", `tensor "w": external_data: location "w.bin" leads through a symbolic link to `),
	{name: "onnx-symlink file", args: []string{"encode", "--model", "{dir}/onnx-symlink/model.onnx", "--text", "hi"},
		want: "outside the model's directory"},
	encodeCase("pickle-code", "pickle-code/pytorch_model.bin: magic number pickle at offset 0: pickle offset 2: opcode 0x63: global os.system is not allowed"),
	encodeCase("no-weights", "no-weights: no weights found"),
	{name: "weights are a directory", args: []string{"encode", "--model", "{dir}/dir-weights", "--text", "hi"},
		setup: func(t *testing.T, dir string) {
			cfg, err := os.ReadFile(filepath.Join(dir, "two-shards", "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			ck := filepath.Join(dir, "dir-weights")
			if err := os.MkdirAll(filepath.Join(ck, "model.safetensors"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ck, "config.json"), cfg, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		want: "dir-weights/model.safetensors: "},
}

// jobCase runs command (finetune, pretrain, distill) on a configuration
// that setup writes as {dir}/name.yaml.
func jobCase(command, name, config, want string) hostileCase {
	return hostileCase{name: command + " " + name, args: []string{command, "--config", "{dir}/" + name + ".yaml"},
		setup: func(t *testing.T, dir string) {
			text := strings.ReplaceAll(strings.ReplaceAll(config, "{dir}/runs/x", "{dir}/runs/"+name), "{dir}", dir)
			if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: want}
}

// tinyJob is a fine-tuning configuration of the embedded tiny-random
// checkpoint; extra goes at its end.
func tinyJob(extra string) string {
	data, _ := filepath.Abs("../../examples/data")
	return `output: {dir}/runs/x
model: tiny-random
datasets:
  ewt: {format: conllu, train: ` + data + `/ewt-sample-train.conllu, dev: ` + data + `/ewt-sample-dev.conllu, limit: 16}
tasks:
  - {name: deps, dataset: ewt, type: parse, layer: 1, arc_mlp: 8, rel_mlp: 8}
` + extra
}

// trainedRun trains, once, the tiny run that the eval and predict cases
// read, with the binary.
func trainedRun(bin string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		run := filepath.Join(dir, "runs", "trained")
		if _, err := os.Stat(filepath.Join(run, "latest")); err == nil {
			return
		}
		cfg := filepath.Join(dir, "trained.yaml")
		text := strings.ReplaceAll(strings.Replace(tinyJob("train: {steps: 1, batch_size: 8}\n"), "runs/x", "runs/trained", 1), "{dir}", dir)
		os.WriteFile(cfg, []byte(text), 0o644)
		if out, err := exec.Command(bin, "finetune", "--config", cfg).CombinedOutput(); err != nil {
			t.Fatalf("training the run: %v\n%s", err, out)
		}
		var long strings.Builder
		for i := 1; i <= 100000; i++ {
			head := "1"
			if i == 1 {
				head = "0"
			}
			long.WriteString(strconv.Itoa(i) + "\tw\tw\tX\t_\t_\t" + head + "\tdep\t_\t_\n")
		}
		os.WriteFile(filepath.Join(dir, "long.conllu"), []byte(long.String()+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "cycle.conllu"), []byte("1\ta\ta\tX\t_\t_\t2\tdep\t_\t_\n2\tb\tb\tX\t_\t_\t1\tdep\t_\t_\n\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "latin1.conllu"), []byte("1\tna\xefve\t_\tX\t_\t_\t0\troot\t_\t_\n\n"), 0o644)
	}
}

// runCases are the hostile inputs of the jobs and of the commands that
// read a trained run; bin is the binary under test.
func runCases(bin string) []hostileCase {
	laughs := "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
	for i, prev := range []string{"a", "b", "c", "d", "e", "f"} {
		name := string(rune('b' + i))
		laughs += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
	}
	trained := trainedRun(bin)
	readRun := func(name, want string, args ...string) hostileCase {
		return hostileCase{name: name, args: args, setup: trained, want: want}
	}
	return []hostileCase{
		jobCase("finetune", "nan-rate", tinyJob("train: {steps: 1, learning_rate: .nan}\n"), "train.learning_rate: want a finite number"),
		jobCase("finetune", "fractional-layer", strings.Replace(tinyJob("train: {steps: 1}\n"), "layer: 1,", "layer: 1.5,", 1), "layer: want a whole number"),
		jobCase("finetune", "zero-batch", tinyJob("train: {steps: 1, batch_size: 0}\n"), "train.batch_size must be at least 1"),
		jobCase("finetune", "renamed-key", tinyJob("train: {steps: 1}\neval: {every: 4}\n"), "eval.every is now train.eval_every"),
		logged(jobCase("finetune", "unknown-select", tinyJob("train: {steps: 1, select: ewt.lass}\n"), `train.select: no metric "ewt.lass"`)),
		jobCase("finetune", "billion-laughs", laughs, `line 1: unknown key "a"`),
		{name: "finetune latin1-data", args: []string{"finetune", "--config", "{dir}/latin1.yaml"}, want: "latin1.conllu:1: ",
			setup: func(t *testing.T, dir string) {
				trained(t, dir)
				job := "output: " + dir + "/runs/latin1\nmodel: tiny-random\ndatasets: {ewt: {format: conllu, train: " + dir + "/latin1.conllu}}\n" +
					"tasks: [{name: upos, dataset: ewt, type: tag, column: upos}]\ntrain: {steps: 1}\n"
				os.WriteFile(filepath.Join(dir, "latin1.yaml"), []byte(job), 0o644)
			}},
		jobCase("pretrain", "negative-steps", "output: {dir}/runs/p\ndata: {files: [a]}\nvocab: {size: 1000}\ntrain: {steps: -1}\n", "train.steps must be positive"),
		jobCase("distill", "renamed-key", "output: {dir}/runs/d\nteacher: t\ngeneral: {corpus: [a], batch_size: 8, train: {steps: 1}}\n", "general.batch_size is now general.train.batch_size"),
		readRun("predict a 100,000-word sentence", "long.conllu:1: a sentence of 100000 words, more than the model's max_words 1024",
			"predict", "--run", "{dir}/runs/trained", "--input", "{dir}/long.conllu", "--output", "{dir}/out.conllu"),
		readRun("eval a cyclic gold tree", "cycle.conllu:1: task deps: the gold heads are not a tree",
			"eval", "--run", "{dir}/runs/trained", "--data", "{dir}/cycle.conllu"),
		readRun("a checkpoint outside the run", `"../../etc" is not a checkpoint of this run`,
			"eval", "--run", "{dir}/runs/trained", "--checkpoint", "../../etc", "--data", "{dir}/cycle.conllu"),
	}
}

// logged is c for a command that prints progress before it fails.
func logged(c hostileCase) hostileCase {
	c.logs = true
	return c
}

// encodeCase runs "hiertune encode" on the checkpoint make.sh wrote as name.
func encodeCase(name, want string) hostileCase {
	return hostileCase{name: name, args: []string{"encode", "--model", "{dir}/" + name, "--text", "hi"}, want: want}
}

// TestHostileInputs builds the hiertune binary and runs it on each hostile
// input under a 4 GB address-space limit: bad input must be a one-line error
// and exit status 1, never a panic, a runtime error or an out-of-memory
// crash.
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the hostile inputs are made by a POSIX shell script")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash for ulimit")
	}
	goTool, err := exec.LookPath("go") // go test puts its own first on PATH
	if err != nil {
		t.Skip("no go command to build the binary with")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "hiertune")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "hostile")
	if out, err := exec.Command("sh", "testdata/hostile/make.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("make.sh: %v\n%s", err, out)
	}
	for _, tc := range append(hostileCases, runCases(bin)...) {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			args := []string{"-c", `ulimit -v 4000000; exec "$0" "$@"`, bin}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "{dir}", dir))
			}
			cmd := exec.Command(bash, args...)
			cmd.Dir = tmp
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("exit status: %v, want 1", err)
			}
			msg := strings.TrimSuffix(stderr.String(), "\n")
			if tc.logs {
				msg = msg[strings.LastIndexByte(msg, '\n')+1:]
			}
			if msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("stderr is not one line:\n%s", stderr.String())
			}
			for _, crash := range []string{"goroutine", "panic", "fatal error", "runtime error"} {
				if strings.Contains(msg, crash) {
					t.Errorf("stderr mentions %q:\n%s", crash, msg)
				}
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("stderr %q does not say %q", msg, tc.want)
			}
		})
	}
}
