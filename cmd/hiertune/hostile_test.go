package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	for _, tc := range hostileCases {
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
