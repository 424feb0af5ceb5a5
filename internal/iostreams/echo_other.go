//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package iostreams

import (
	"os"

	"golang.org/x/term"
)

// echoOff puts the console in raw mode where there are no termios (Windows):
// no echo, but Ctrl-C arrives as a character, not a signal.
func echoOff(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	state, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return func() { _ = term.Restore(fd, state) }, nil
}
