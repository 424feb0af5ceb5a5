package iostreams

import "strconv"

// Plural is a count and its noun: "1 mail", "2 mails", "0 mails"; many is
// the plural when it is not one+"s" ("1 query", "2 queries").
func Plural(n int, one string, many ...string) string {
	noun := one + "s"
	if len(many) > 0 {
		noun = many[0]
	}
	if n == 1 {
		noun = one
	}
	return strconv.Itoa(n) + " " + noun
}
