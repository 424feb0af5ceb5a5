package receiver

import (
	"context"

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

type exchangeKey struct{}

// WithExchange returns ctx carrying x: a request with this context, served
// by a Receiver, has x filled in as it is handled.
func WithExchange(ctx context.Context, x *Exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

// noteExchange fills in the request's Exchange, if it carries one.
func noteExchange(ctx context.Context, note func(*Exchange)) {
	if x, ok := ctx.Value(exchangeKey{}).(*Exchange); ok {
		note(x)
	}
}
