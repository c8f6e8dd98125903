// Command hiertune loads, fine-tunes, distils and exports BERT-family
// encoders with hierarchical multi-task losses.
//
// Usage:
//
//	hiertune <command> [flags]
//
// Run "hiertune help" for the list of commands and "hiertune <command> --help"
// for the flags of one.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand: its one-line summary and its entry point, which
// parses args and returns an error to report (flag.ErrHelp after --help).
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"encode":    {"run the encoder on token ids or text and write or summarise every hidden state", runEncode},
	"bench":     {"measure training-step and inference speed (tokens/s, peak RSS) as JSON", runBench},
	"pretrain":  {"train an encoder with the masked-language-model objective, from scratch or a checkpoint", runPretrain},
	"fill-mask": {"predict the tokens behind [MASK] with a checkpoint's masked-LM head", runFillMask},
	"convert":   {"rewrite a checkpoint as HuggingFace safetensors in F32, F16 or BF16", runConvert},
	"vocab":     {"train a WordPiece vocabulary on a text corpus and write vocab.txt and tokenizer.json", runVocab},
	"finetune":  {"fine-tune an encoder on several tasks, each reading the layer it names", runFinetune},
	"eval":      {"score a fine-tuned run on a file (CoNLL-U, CoNLL, TSV)", runEval},
	"predict":   {"annotate a file with a fine-tuned run, writing the same format", runPredict},
	"inspect":   {"show how a fine-tuned run's tasks read the encoder: their layers or learned layer mixes", runInspect},
	"export":    {"write a fine-tuned run as an ONNX graph (encoder, adapters, heads) and check it against ONNX Runtime", runExport},
	"probe":     {"train probes on every layer's frozen states (with control tasks) to see which layer holds a task", runProbe},
	"serve":     {"serve a fine-tuned run over HTTP/JSON with dynamic batching, limits, health checks and Prometheus metrics", runServe},
	"load":      {"load-test a hiertune serve on this machine: throughput and latency quantiles at several client counts, as JSON", runLoad},
	"distill":   {"distil a fine-tuned run into a smaller student (TinyBERT's two stages, multi-task and multi-teacher)", runDistill},
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hiertune: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		// One line, whatever the error holds: several problems are
		// joined by semicolons.
		fmt.Fprintf(stderr, "hiertune %s: %s\n", args[0], strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
		var exit exitError
		switch {
		case errors.As(err, new(usageError)):
			return 2
		case errors.As(err, &exit):
			return exit.code
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "hiertune fine-tunes BERT-family encoders with hierarchical multi-task losses.")
	fmt.Fprintln(w, "\nUsage: hiertune <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"hiertune <command> --help\" for a command's flags.")
	fmt.Fprintln(w, "Run pretrain, finetune and distill data-parallel with \"mpirun -np N hiertune <command> ...\" (docs/distributed.md).")
}

// usageError marks an error in how a command was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlagSet returns a flag set whose usage (printed for --help, and after
// a parse error) goes to stdout, with parse errors on stderr.
func newFlagSet(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: hiertune %s\n\nFlags:\n", synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	return fs
}

// parse parses args; it returns flag.ErrHelp after --help and a usageError
// for bad flags or stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// exitError is an error that ends the command with its own exit status.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
