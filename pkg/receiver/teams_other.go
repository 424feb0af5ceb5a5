//go:build !unix

package receiver

import "os/exec"

// killGroupOnCancel keeps os/exec's default (the command alone is killed)
// where there are no Unix process groups.
func killGroupOnCancel(*exec.Cmd) {}
