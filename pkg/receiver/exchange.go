package receiver

import (
	"net/http"

	"github.com/hookctl/hookctl/pkg/notification"
)

// Exchange is what the receiver learned of one request, for whoever keeps a
// record of the exchange (the listener's history): the body it read and the
// Graph collection it parsed from it. Keeping them here spares a second copy
// and a second parse of every body on the way to the 202.
type Exchange struct {
	// Body is what the receiver read of the request body (nil when it read
	// none: a handshake, a method or route it refused).
	Body []byte
	// Collection is the parsed Graph collection (nil when the body was not
	// one, or was not read).
	Collection *notification.Collection
}

// ExchangeWriter is an http.ResponseWriter that keeps a record of the
// exchange it answers: a Receiver answering a request through one fills in
// its Exchange as it handles the request. The writer carries it, rather than
// the request's context, so that keeping the record costs a request neither
// a new context nor a copy of itself.
type ExchangeWriter interface {
	http.ResponseWriter
	Exchange() *Exchange
}

// noteExchange fills in the request's Exchange, if its writer keeps one.
func noteExchange(w http.ResponseWriter, note func(*Exchange)) {
	if x, ok := w.(ExchangeWriter); ok {
		note(x.Exchange())
	}
}
