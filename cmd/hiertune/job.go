package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/mpi"
	rundir "github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/train"
)

// distributedUsage ends the synopsis of the training jobs.
const distributedUsage = `

Data-parallel on N processes, here or on several machines (Open MPI):
  mpirun -np N [--hostfile FILE] hiertune <job> --config X.yaml
gives the result of one process (train.accumulate must be a multiple of N;
the global batch is batch_size × accumulate for any N). See docs/distributed.md.`

// jobFlags are the flags every training job takes: its configuration, the
// run directory and how to take it, and a CPU profile.
type jobFlags struct {
	config, output, cpuProfile *string
	resume, restart            *bool
}

// addJobFlags defines the job flags on fs; doc names the job's
// documentation.
func addJobFlags(fs *flag.FlagSet, doc string) jobFlags {
	return jobFlags{
		config:     fs.String("config", "", "the job's YAML configuration (see "+doc+")"),
		output:     fs.String("output", "", "run directory (overrides the configuration's output)"),
		resume:     fs.Bool("resume", false, "continue the run in the output directory from its latest checkpoint (from step 0 if it has none yet)"),
		restart:    fs.Bool("restart", false, "start the run in the output directory over, deleting what it holds"),
		cpuProfile: fs.String("cpuprofile", "", "write a CPU profile to this file (for go tool pprof)"),
	}
}

// mode is how the job takes its run directory.
func (f jobFlags) mode() (rundir.Mode, error) {
	switch {
	case *f.resume && *f.restart:
		return 0, usageError{"--resume and --restart exclude each other"}
	case *f.resume:
		return rundir.Continue, nil
	case *f.restart:
		return rundir.Over, nil
	}
	return rundir.New, nil
}

// startJob parses a job's flags in args, reads its configuration with
// parseConfig (errors name the file) and starts the CPU profile, which the
// caller stops.
func startJob[C any](fs *flag.FlagSet, f jobFlags, args []string, parseConfig func([]byte) (*C, error)) (cfg *C, m rundir.Mode, stopProfile func(), err error) {
	if err := parse(fs, args); err != nil {
		return nil, 0, nil, err
	}
	if m, err = f.mode(); err != nil {
		return nil, 0, nil, err
	}
	if *f.config == "" {
		return nil, 0, nil, usageError{"--config is required"}
	}
	raw, err := os.ReadFile(*f.config)
	if err != nil {
		return nil, 0, nil, err
	}
	if cfg, err = parseConfig(raw); err != nil {
		return nil, 0, nil, fmt.Errorf("%s: %w", *f.config, err)
	}
	if stopProfile, err = startProfile(*f.cpuProfile); err != nil {
		return nil, 0, nil, err
	}
	return cfg, m, stopProfile, nil
}

// startRanks joins the ranks of a job launched by mpirun (a world of one
// otherwise) and gives each rank its share of the machine's cores, unless
// train.threads says otherwise.
func startRanks() (*mpi.Comm, error) {
	comm, err := mpi.Init()
	if err != nil {
		return nil, err
	}
	if local, err := strconv.Atoi(os.Getenv("OMPI_COMM_WORLD_LOCAL_SIZE")); err == nil && local > 1 {
		kernels.SetThreads(max(1, runtime.NumCPU()/local))
	}
	return comm, nil
}

// runJob runs a long job with a context that Ctrl-C (or SIGTERM) cancels:
// the job finishes its current step, saves, and returns train.ErrStopped.
// The job is given its configuration as resolved — defaults filled in and
// the flags applied — for the run to keep, so that it says exactly what
// ran. A job stopped by a signal exits with status 130, as an interrupted
// shell command does, so that `hiertune finetune ... && next` does not go
// on with a partial model; a job stopped at its time limit exits cleanly.
func runJob(cfg any, job func(ctx context.Context, resolved []byte) error) error {
	resolved, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	comm, err := startRanks()
	if err != nil {
		return err
	}
	err = job(train.WithComm(ctx, comm), resolved)
	if err == nil || errors.Is(err, train.ErrStopped) {
		if ferr := comm.Finalize(); ferr != nil {
			return ferr
		}
	}
	switch {
	case !errors.Is(err, train.ErrStopped):
		return err
	case ctx.Err() != nil:
		return exitError{130, err}
	}
	return nil
}
