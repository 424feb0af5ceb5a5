//go:build !unix

package events

// ttyWidth is unknown here: $COLUMNS or the default width.
func ttyWidth() int { return 0 }
