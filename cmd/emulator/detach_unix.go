//go:build unix

package emulator

import (
	"os/exec"
	"syscall"
)

// detach starts the child in a session of its own, so the terminal's hangup
// and Ctrl-C reach `start` but not the emulator it leaves running.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }
