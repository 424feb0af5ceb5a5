package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hookctl/hookctl/internal/config"
	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/filelock"
	"github.com/hookctl/hookctl/internal/iostreams"
)

// A background emulator is known by three files beside its state file. The
// lock is the truth: the emulator process holds it (inherited from `start`)
// for as long as it runs, so a held lock means "running" however the process
// ended, and a free one means any record left behind is stale. No pid is
// signalled unless the lock is held, so a reused pid is never hit.
type runFiles struct{ dir string }

func runFilesFor(stateFile string) runFiles { return runFiles{dir: filepath.Dir(stateFile)} }

func (r runFiles) lock() string   { return filepath.Join(r.dir, "run.lock") }
func (r runFiles) record() string { return filepath.Join(r.dir, "run.json") }
func (r runFiles) log() string    { return filepath.Join(r.dir, "emulator.log") }

// runRecord is run.json: the running emulator's pid and settings (0600: the
// settings carry the confidential client's secret).
type runRecord struct {
	PID      int               `json:"pid"`
	Log      string            `json:"log"`
	Settings emulator.Settings `json:"settings"`
}

// startWait bounds how long `start` waits for the emulator to serve (its
// first start generates keys), and stopWait how long `stop` waits for it to
// save its state and exit.
const (
	startWait = 60 * time.Second
	stopWait  = 30 * time.Second
)

// errNotRunning is returned by running when no emulator holds the lock.
var errNotRunning = errors.New("no emulator is running")

// running returns the record of the emulator running from dir, or errNotRunning.
func (r runFiles) running(ctx context.Context) (runRecord, error) {
	if _, err := os.Stat(r.lock()); errors.Is(err, os.ErrNotExist) {
		return runRecord{}, errNotRunning // never started here: create nothing
	}
	probe, cancel := context.WithCancel(ctx)
	cancel() // one try, no wait
	// A shared lock: probes never exclude each other.
	if l, err := filelock.Acquire(probe, r.lock(), false); err == nil {
		l.Release()
		return runRecord{}, errNotRunning
	} else if !errors.Is(err, context.Canceled) {
		return runRecord{}, err
	}
	var rec runRecord
	data, err := os.ReadFile(r.record())
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil {
		return runRecord{}, fmt.Errorf("an emulator holds %s but its record %s is unreadable (is it still starting?): %w", r.lock(), r.record(), err)
	}
	return rec, nil
}

// StartOptions are every input of `hookctl emulator start`.
type StartOptions struct {
	IO        *iostreams.IOStreams
	StateFile string
	// Executable is the hookctl binary to run in the background (os.Executable).
	Executable string
	// Args are the `hookctl emulator` flags given to start, passed on as typed.
	Args []string
}

// NewCmdStart builds `hookctl emulator start`; runF replaces startRun in tests.
func NewCmdStart(f *factory.Factory, runF func(*StartOptions) error) *cobra.Command {
	serve := &Options{}
	opts := &StartOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "start [flags]",
		Short: "Start the emulator in the background and return once it serves",
		Long: heredoc.Doc(`
			Run ` + "`hookctl emulator`" + ` in the background with the same flags, and return once it
			accepts connections (or fail with its error). Its settings and pid are kept
			in run.json beside the state file (mode 0600) and its log in emulator.log;
			` + "`hookctl emulator env`" + ` prints the settings as export lines and
			` + "`hookctl emulator stop`" + ` stops it, saving its state. One emulator runs per
			state file: start again after stop.
		`),
		Example: heredoc.Doc(`
			$ hookctl emulator start --auto-approve
			$ eval "$(hookctl emulator env)"
			$ hookctl login
			$ hookctl emulator stop

			# On a port of its own choosing, beside another emulator
			$ hookctl emulator start --addr 127.0.0.1:0 --state ./emu/state.json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.StateFile = stateFile(f, serve.StateFile)
			serve.StateFile = opts.StateFile
			if err := serve.validate(); err != nil {
				return err
			}
			// The background emulator reads HOOKCTL_* and config.yaml itself;
			// what was typed is passed on as typed, the state file resolved.
			cmd.Flags().Visit(func(fl *pflag.Flag) {
				if fl.Name != "state" && config.FromCommandLine(fl) {
					opts.Args = append(opts.Args, "--"+fl.Name+"="+fl.Value.String())
				}
			})
			opts.Args = append(opts.Args, "--state="+opts.StateFile)
			if f.ConfigFile != "" {
				opts.Args = append(opts.Args, "--config="+f.ConfigFile)
			}
			if opts.Executable == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("finding the hookctl binary to run in the background: %w", err)
				}
				opts.Executable = exe
			}
			if runF != nil {
				return runF(opts)
			}
			return startRun(cmd.Context(), opts)
		},
	}
	addServeFlags(cmd.Flags(), serve)
	return cmd
}

func startRun(ctx context.Context, o *StartOptions) error {
	files := runFilesFor(o.StateFile)
	if err := config.EnsurePrivateDir(files.dir); err != nil {
		return err
	}
	// A short wait rides out another command's probe of the lock.
	lockCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	lock, err := filelock.Acquire(lockCtx, files.lock(), true)
	cancel()
	if err != nil {
		if rec, runErr := files.running(ctx); runErr == nil {
			return fmt.Errorf("an emulator is already running on %s (pid %d); stop it with `hookctl emulator stop`", rec.Settings.URL, rec.PID)
		}
		return err
	}
	lockFile := lock.Handoff()
	defer lockFile.Close() // the child holds the lock from here on

	_ = os.Remove(files.record()) // stale: the lock was free
	logFile, err := os.OpenFile(files.log(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("opening the emulator's log: %w", err)
	}
	defer logFile.Close()

	child := exec.Command(o.Executable, append([]string{"emulator", "-o", "json"}, o.Args...)...)
	child.Stderr = logFile
	child.ExtraFiles = []*os.File{lockFile}
	detach(child)
	stdout, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return fmt.Errorf("starting %s emulator: %w", o.Executable, err)
	}
	settings := make(chan emulator.Settings, 1)
	go func() {
		// The emulator prints its settings once it accepts connections, then
		// closes stdout (see emulatorRun).
		var s emulator.Settings
		if json.NewDecoder(stdout).Decode(&s) == nil {
			settings <- s
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()

	timer := time.NewTimer(startWait)
	defer timer.Stop()
	var s emulator.Settings
	select {
	case s = <-settings:
	case err := <-exited:
		return fmt.Errorf("the emulator exited before serving (%v):\n%s", err, tail(files.log()))
	case <-timer.C:
		_ = child.Process.Kill()
		return fmt.Errorf("the emulator did not serve within %s; its log:\n%s", startWait, tail(files.log()))
	case <-ctx.Done():
		_ = child.Process.Signal(syscall.SIGTERM)
		return exitcode.New(exitcode.Error, ctx.Err())
	}
	rec := runRecord{PID: child.Process.Pid, Log: files.log(), Settings: s}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := config.WriteFileAtomic(files.record(), data); err != nil {
		_ = child.Process.Signal(syscall.SIGTERM)
		return err
	}
	_ = child.Process.Release()
	cs := o.IO.ErrScheme()
	if u, err := url.Parse(s.URL); err != nil || !loopbackOnly(u.Host) {
		o.IO.Warn("the emulator is reachable from other machines, and its control API is unauthenticated and mints tokens.")
	}
	fmt.Fprintln(o.IO.ErrOut, startedMessage(cs, s.URL, rec.PID, rec.Log, o.StateFile, o.IO.TerminalWidth()))
	return nil
}

// startedMessage tells where the background emulator runs and the commands
// that load its settings and stop it (whole, never broken).
func startedMessage(cs *iostreams.ColorScheme, url string, pid int, log, stateFile string, width int) string {
	return iostreams.Wrap(fmt.Sprintf("%s Emulator running on %s (pid %d, log %s)", cs.SuccessIcon(), url, pid, log), width, "  ") + "\n" +
		iostreams.WrapCommand("  Load its settings with:", `eval "$(hookctl emulator env`+stateArg(stateFile)+`)"`, width, "  ") + "\n" +
		iostreams.WrapCommand("  Stop it with:", "hookctl emulator stop"+stateArg(stateFile), width, "  ")
}

// stateArg repeats --state in printed advice when it is not the default.
func stateArg(stateFile string) string {
	if filepath.Base(filepath.Dir(stateFile)) == "emulator" && filepath.Base(stateFile) == emulator.DefaultStateFile {
		return ""
	}
	return " --state " + shellQuote(stateFile)
}

// tail is the end of the emulator's log, for a failed start.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const keep = 2000
	if len(data) > keep {
		data = data[len(data)-keep:]
	}
	return strings.TrimRight(string(data), "\n")
}

// EnvOptions are every input of `hookctl emulator env`.
type EnvOptions struct {
	IO        *iostreams.IOStreams
	StateFile string
}

// NewCmdEnv builds `hookctl emulator env`; runF replaces envRun in tests.
func NewCmdEnv(f *factory.Factory, runF func(*EnvOptions) error) *cobra.Command {
	opts := &EnvOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print the running emulator's settings as shell export lines",
		Long: heredoc.Doc(`
			Print export lines for the emulator that ` + "`hookctl emulator start`" + ` runs:
			HOOKCTL_AUTHORITY, HOOKCTL_GRAPH_URL, HOOKCTL_CA_FILE, HOOKCTL_CLIENT_ID,
			HOOKCTL_EMULATOR_URL and HOOKCTL_EMULATOR_PID. With no emulator running it
			prints nothing on stdout and fails (exit 1).
		`),
		Example: heredoc.Doc(`
			$ eval "$(hookctl emulator env)"
			$ hookctl emulator env > emulator.env
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.StateFile = stateFile(f, opts.StateFile)
			if runF != nil {
				return runF(opts)
			}
			return envRun(cmd.Context(), opts)
		},
	}
	addStateFlag(cmd, &opts.StateFile)
	return cmd
}

func envRun(ctx context.Context, o *EnvOptions) error {
	rec, err := runFilesFor(o.StateFile).running(ctx)
	if errors.Is(err, errNotRunning) {
		return fmt.Errorf("no emulator is running from %s: start one with `hookctl emulator start%s`", filepath.Dir(o.StateFile), stateArg(o.StateFile))
	}
	if err != nil {
		return err
	}
	return printEnv(o.IO.Out, rec.Settings, rec.PID)
}

// StopOptions are every input of `hookctl emulator stop`.
type StopOptions struct {
	IO        *iostreams.IOStreams
	StateFile string
}

// NewCmdStop builds `hookctl emulator stop`; runF replaces stopRun in tests.
func NewCmdStop(f *factory.Factory, runF func(*StopOptions) error) *cobra.Command {
	opts := &StopOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop the emulator that `hookctl emulator start` runs",
		Long: heredoc.Doc(`
			Ask the background emulator to stop (SIGTERM), and return once it has saved
			its state and exited. With no emulator running it says so and succeeds, so
			it is safe in a cleanup trap.
		`),
		Example: heredoc.Doc(`
			$ hookctl emulator stop
			$ trap 'hookctl emulator stop' EXIT
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.StateFile = stateFile(f, opts.StateFile)
			if runF != nil {
				return runF(opts)
			}
			return stopRun(cmd.Context(), opts)
		},
	}
	addStateFlag(cmd, &opts.StateFile)
	return cmd
}

func stopRun(ctx context.Context, o *StopOptions) error {
	files := runFilesFor(o.StateFile)
	rec, err := files.running(ctx)
	if errors.Is(err, errNotRunning) {
		_ = os.Remove(files.record())
		o.IO.Note(fmt.Sprintf("No emulator is running from %s.", files.dir))
		return nil
	}
	if err != nil {
		return err
	}
	process, err := os.FindProcess(rec.PID)
	if err == nil {
		err = process.Signal(syscall.SIGTERM)
	}
	if err != nil {
		return fmt.Errorf("stopping the emulator (pid %d): %w", rec.PID, err)
	}
	// The lock comes free when the emulator has exited, state saved.
	waitCtx, cancel := context.WithTimeout(ctx, stopWait)
	defer cancel()
	lock, err := filelock.Acquire(waitCtx, files.lock(), true)
	if err != nil {
		return fmt.Errorf("the emulator (pid %d) has not exited within %s; its log is %s: %w", rec.PID, stopWait, rec.Log, err)
	}
	defer lock.Release()
	_ = os.Remove(files.record())
	o.IO.Note(fmt.Sprintf("%s Emulator stopped (pid %d); state saved in %s.", o.IO.ErrScheme().SuccessIcon(), rec.PID, o.StateFile))
	return nil
}

// addStateFlag adds --state to env and stop, to find an emulator started with --state.
func addStateFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "state", "", "the state `FILE` the emulator was started with (default: $HOOKCTL_STATE_DIR/emulator/state.json)")
}
