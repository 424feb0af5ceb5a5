//go:build unix

package events

import (
	"os"

	"golang.org/x/sys/unix"
)

// ttyWidth asks the terminal on stdout for its width (0 if it cannot say).
func ttyWidth() int {
	ws, err := unix.IoctlGetWinsize(int(os.Stdout.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
