// Package exitcode defines hookctl's process exit codes and the error type that carries them.
package exitcode

import (
	"errors"
	"fmt"
)

// The documented exit codes (README.md and docs/exit-codes.md list the same table).
const (
	OK           = 0   // success
	Error        = 1   // any failure not listed below
	Usage        = 2   // bad flags, arguments or configuration
	SignIn       = 3   // no usable sign-in: run `hookctl login`
	VerifyFailed = 4   // a signature, clientState or token did not verify
	Timeout      = 5   // --timeout elapsed before the work finished
	Interrupted  = 130 // the first Ctrl-C (SIGINT) or SIGTERM ended the command, as shells report 128+2
)

// ExitError attaches an exit code to an error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// New wraps err so that the process exits with code.
func New(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// Usagef returns a usage error (exit 2).
func Usagef(format string, args ...any) error {
	return New(Usage, fmt.Errorf(format, args...))
}

// SignInNeeded marks err as needing an interactive sign-in (exit 3).
func SignInNeeded(err error) error { return New(SignIn, err) }

// VerificationFailed marks err as a failed verification (exit 4).
func VerificationFailed(err error) error { return New(VerifyFailed, err) }

// TimedOut marks err as a timeout (exit 5).
func TimedOut(err error) error { return New(Timeout, err) }

// ErrSilent is returned by commands that already reported the failure; only the exit code remains.
var ErrSilent = errors.New("silent error")

// Code returns the exit code for err: 0 for nil, the attached code, or 1.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		return exitErr.Code
	}
	return Error
}
