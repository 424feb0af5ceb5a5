package iostreams

import (
	"strings"
	"testing"

	"github.com/hookctl/hookctl/internal/golden"
)

func TestFitTable(t *testing.T) {
	t.Parallel()
	rows := [][]string{{"ID", "RESOURCE", "URL"}, {"abc", "me/mailFolders('Inbox')/messages", "https://hooks.example.com/notifications"}}
	for _, tt := range []struct {
		width int
		want  string
	}{
		{120, "ID   RESOURCE                          URL\nabc  me/mailFolders('Inbox')/messages  https://hooks.example.com/notifications\n"},
		{60, "ID   RESOURCE                    URL\nabc  me/mailFolders('Inbox')/m…  https://hooks.example.com/…\n"},
		{30, "ID   RESOURCE     URL\nabc  me/mailFol…  https://hoo…\n"},
		{10, "ID   RESOURCE  URL\nabc  me/mail…  ht…\n"}, // as narrow as the headers,
	} {
		if got := FitTable(rows, tt.width, 1, 2); got != tt.want {
			t.Errorf("width %d:\n%q\nwant\n%q", tt.width, got, tt.want)
		}
	}
}

// TestFitStyledTable: a style paints the cell as cut, after the layout is
// decided, so the escape codes neither widen a column nor shift the next one:
// with them removed, the table is FitTable's.
func TestFitStyledTable(t *testing.T) {
	t.Parallel()
	rows := [][]string{{"ID", "STATUS", "WHAT"}, {"abc", "202", "created me/messages/1"}, {"def", "500", "target answered 500 Internal Server Error"}}
	scheme := &ColorScheme{enabled: true}
	var seen []string
	red := func(row, col int, text string) string {
		if col != 1 || row == 0 || text < "400" {
			return text
		}
		seen = append(seen, text)
		return scheme.Red(text)
	}
	for _, width := range []int{80, 30} {
		seen = nil
		got := FitStyledTable(rows, width, red, 2)
		if !strings.Contains(got, "\x1b[31m500\x1b[0m     target") {
			t.Errorf("width %d: 500 is not red, or not padded as plain text:\n%q", width, got)
		}
		if strings.Contains(got, "\x1b[31m202") {
			t.Errorf("width %d: 202 painted:\n%q", width, got)
		}
		if plain := golden.Plain(got); plain != FitTable(rows, width, 2) {
			t.Errorf("width %d: the colour moved the columns:\n%q\nwant\n%q", width, plain, FitTable(rows, width, 2))
		}
		if len(seen) != 1 || seen[0] != "500" {
			t.Errorf("width %d: the style saw %q", width, seen)
		}
	}
	if got := FitStyledTable(rows, 30, nil, 2); got != FitTable(rows, 30, 2) {
		t.Errorf("a nil style changed the table: %q", got)
	}
}

// TestTerminalWidth: COLUMNS comes from the environment the streams were
// given (the factory's), never from the process's behind their back, so a
// golden file does not depend on the shell that ran the tests.
func TestTerminalWidth(t *testing.T) {
	s, _, _, _ := Test()
	t.Setenv("COLUMNS", "132")
	if got := s.TerminalWidth(); got != DefaultWidth {
		t.Errorf("the process's COLUMNS leaked in: %d", got)
	}
	env := map[string]string{"COLUMNS": "100"}
	s.SetEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if got := s.TerminalWidth(); got != 100 {
		t.Errorf("COLUMNS: %d", got)
	}
	env["COLUMNS"] = "wide"
	if got := s.TerminalWidth(); got != DefaultWidth {
		t.Errorf("unknown: %d", got)
	}
	s.SetWidth(90)
	if got := s.TerminalWidth(); got != 90 {
		t.Errorf("SetWidth: %d", got)
	}
}

func TestWriteJSONLine(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteJSONLine(&b, "subscription", struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}{"a", "https://x/?a=1&b=2"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSONLine(&b, "empty", struct{}{}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != `{"type":"subscription","id":"a","url":"https://x/?a=1&b=2"}`+"\n"+`{"type":"empty"}`+"\n" {
		t.Errorf("got %s", got)
	}
	if err := WriteJSONLine(&b, "x", []int{1}); err == nil {
		t.Error("an array was accepted")
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Plural(1, "mail"), "1 mail"},
		{Plural(2, "mail"), "2 mails"},
		{Plural(0, "mail"), "0 mails"},
		{Plural(1, "query", "queries"), "1 query"},
		{Plural(3, "query", "queries"), "3 queries"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestWrap: sentences break between words onto indented lines; a word wider
// than a line (a URL) is never cut; colour codes take no columns; lines that
// are already indented keep their indentation when they wrap.
func TestWrap(t *testing.T) {
	t.Parallel()
	scheme := &ColorScheme{enabled: true}
	for _, tt := range []struct {
		text  string
		width int
		want  string
	}{
		{"short enough", 20, "short enough"},
		{"one two three four five", 10, "one two\n  three\n  four\n  five"},
		{"see https://login.microsoftonline.com/common/oauth2 now", 20, "see\n  https://login.microsoftonline.com/common/oauth2\n  now"},
		{"  Stop it with: hookctl emulator stop", 24, "  Stop it with: hookctl\n    emulator stop"},
		{"run `hookctl subscriptions delete abc` first", 30, "run\n  `hookctl subscriptions delete abc`\n  first"},
		{"sent to " + Unbroken("subscription 7f105c7d"), 20, "sent to\n  subscription 7f105c7d"},
		{"first line\nsecond line here", 12, "first line\nsecond line\n  here"},
		{scheme.Green("✓") + " done and dusted", 12, scheme.Green("✓") + " done and\n  dusted"},
	} {
		if got := Wrap(tt.text, tt.width, "  "); got != tt.want {
			t.Errorf("Wrap(%q, %d):\n%q\nwant\n%q", tt.text, tt.width, got, tt.want)
		}
	}
}

// TestWrapCommand: a command follows its sentence when it fits, else takes
// the next line whole.
func TestWrapCommand(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		width int
		want  string
	}{
		{80, "  Stop it with: hookctl emulator stop --state /tmp/e/state.json"},
		{40, "  Stop it with:\n    hookctl emulator stop --state /tmp/e/state.json"},
	} {
		if got := WrapCommand("  Stop it with:", "hookctl emulator stop --state /tmp/e/state.json", tt.width, "  "); got != tt.want {
			t.Errorf("%d columns:\n%q\nwant\n%q", tt.width, got, tt.want)
		}
	}
}

// TestWrapField: a value wraps under its own column, whatever the label.
func TestWrapField(t *testing.T) {
	t.Parallel()
	if got, want := WrapField("  Scopes:  ", "openid profile Mail.Read", 20), "  Scopes:  openid\n           profile\n           Mail.Read"; got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got, want := WrapField("           ", "adele@contoso.example  Adele Vance", 36), "           adele@contoso.example\n           Adele Vance"; got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
