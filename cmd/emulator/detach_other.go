//go:build !unix

package emulator

import "os/exec"

// detach is a no-op where there are no sessions.
func detach(*exec.Cmd) {}
