package trigger

import (
	"context"
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/graph"
)

// ChatMessageOptions are every input of `hookctl trigger chat-message`.
type ChatMessageOptions struct {
	IO    *iostreams.IOStreams
	Graph func() (*graph.Client, error)
	JSON  func() bool

	Team, Channel string
	Text          string
}

// ChatMessageSent is the JSON line (type "chat-message-sent") printed for the message posted.
type ChatMessageSent struct {
	ID      string `json:"id"`
	Team    string `json:"team"`
	Channel string `json:"channel"`
	Text    string `json:"text"`
}

// NewCmdChatMessage builds `hookctl trigger chat-message`; runF replaces chatMessageRun in tests.
func NewCmdChatMessage(f *factory.Factory, runF func(*ChatMessageOptions) error) *cobra.Command {
	opts := &ChatMessageOptions{IO: f.IOStreams, Graph: f.GraphClient, JSON: f.JSON}
	cmd := &cobra.Command{
		Use:   "chat-message TEAM-ID/CHANNEL-ID --text TEXT",
		Short: "Post a Teams channel message through Graph so a listener sees chat-message notifications",
		Long: heredoc.Doc(`
			Post a message in a Teams channel through Microsoft Graph
			(POST /teams/{team}/channels/{channel}/messages), so that a subscription on
			the channel (hookctl listen --subscribe "channel TEAM-ID/CHANNEL-ID") sees a
			created notification.

			It needs the delegated permission ChannelMessage.Send (sign in with
			hookctl login --scopes ChannelMessage.Send,offline_access): Graph does not let
			an app-only profile post as itself. The signed-in user must be a member of
			the team.

			One line goes to stdout; with -o json an object with type
			"chat-message-sent", id, team, channel and text.
		`),
		Example: heredoc.Doc(`
			  $ hookctl trigger chat-message 8b081ef6-4792-4def-b2c9-c363a1bf41d5/19:general@thread.tacv2 --text "Deploy finished"
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			team, channel, ok := strings.Cut(args[0], "/")
			if !ok || strings.TrimSpace(team) == "" || strings.TrimSpace(channel) == "" || strings.Contains(channel, "/") {
				return exitcode.Usagef("invalid channel %q: use TEAM-ID/CHANNEL-ID", args[0])
			}
			opts.Team, opts.Channel = strings.TrimSpace(team), strings.TrimSpace(channel)
			if strings.TrimSpace(opts.Text) == "" {
				return exitcode.Usagef("--text is required: the message to post")
			}
			if runF != nil {
				return runF(opts)
			}
			return chatMessageRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Text, "text", "", "message text (required)")
	return cmd
}

func chatMessageRun(ctx context.Context, o *ChatMessageOptions) error {
	client, err := o.Graph()
	if err != nil {
		return err
	}
	posted, err := client.PostChannelMessage(ctx, o.Team, o.Channel, o.Text)
	if err != nil {
		return explainPermission(err, "posting the message", "ChannelMessage.Send")
	}
	line := ChatMessageSent{ID: posted.ID, Team: o.Team, Channel: o.Channel, Text: o.Text}
	if o.JSON() {
		return iostreams.WriteJSONLine(o.IO.Out, "chat-message-sent", line)
	}
	cs := o.IO.OutScheme()
	_, err = fmt.Fprintln(o.IO.Out, o.IO.Wrap(postedLine(cs, o.Text, o.Team, o.Channel)))
	return err
}
