package connector

import (
	"fmt"
	"strings"

	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/connector"
)

// severityMark is the coloured mark of a finding's severity.
func severityMark(cs *iostreams.ColorScheme, severity connector.Severity) string {
	if severity == connector.SeverityError {
		return cs.FailureIcon()
	}
	return cs.WarningIcon()
}

// findingLine is one finding in pretty mode: mark, rule, message.
func findingLine(cs *iostreams.ColorScheme, f connector.Finding) string {
	return fmt.Sprintf("%s %s %s", severityMark(cs, f.Severity), cs.Bold(string(f.Rule)), f.Message)
}

// group is the heading a finding sits under in pretty mode: the operation
// (/paths/~1hooks/post) or the top-level member (/host) it points into.
func group(pointer string) string {
	parts := strings.SplitN(strings.TrimPrefix(pointer, "/"), "/", 4)
	switch {
	case pointer == "":
		return "(document)"
	case parts[0] == "paths" && len(parts) >= 3:
		return "/" + strings.Join(parts[:3], "/")
	case parts[0] == "paths" && len(parts) == 2:
		return "/" + strings.Join(parts, "/")
	}
	return "/" + parts[0]
}

// summaryLine counts errors and warnings.
func summaryCounts(findings []connector.Finding) (errors, warnings int) {
	for _, f := range findings {
		if f.Severity == connector.SeverityError {
			errors++
		} else {
			warnings++
		}
	}
	return errors, warnings
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
