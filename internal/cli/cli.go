// Package cli is how safetynet's command line behaves, apart from what each command does: one
// table of commands (a command may be two words, "model check"), the help of the binary and of
// a group, -h on every command (usage line, description, flags; exit status 0), and usage
// errors (unknown command, bad flag, missing or extra argument) that exit with status 2 and say
// where the usage is; any other error exits with status 1. It knows no command: cmd/safetynet
// gives it the table.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Command is one subcommand: its name ("model check"), its arguments as the usage line shows
// them, a one-line description, and what runs it.
type Command struct {
	Name, Args, Desc string
	Run              func(c *Call) error
	More             func(w io.Writer) // more help after the flags (run: the variables)
}

// ExitCode is 0 for success and help, 2 for a usage error, 1 for any other error.
func ExitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil || errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "safetynet: %s\n%s\n", ue.msg, ue.hint)
		return 2
	}
	fmt.Fprintln(stderr, "safetynet:", err)
	return 1
}

// errHelp: help was asked for and printed.
var errHelp = errors.New("help printed")

// usageError is a command line that does not parse: unknown subcommand, bad flag, missing or
// extra argument.
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

// Dispatch runs the command of commands that args names.
func Dispatch(ctx context.Context, commands []*Command, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{"no command given", "Run 'safetynet -h' for the commands."}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, topUsage(commands, ""))
		return errHelp
	}
	for _, c := range commands {
		words := strings.Fields(c.Name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c.Run(&Call{Ctx: ctx, Cmd: c, Args: args[len(words):], Stdout: stdout, Stderr: stderr})
		}
	}
	// A group ("model", "state") without or with an unknown subcommand.
	group := ""
	for _, c := range commands {
		if g, _, ok := strings.Cut(c.Name, " "); ok && g == args[0] {
			group = g
		}
	}
	if group != "" {
		if len(args) > 1 && (args[1] == "-h" || args[1] == "-help" || args[1] == "--help") {
			fmt.Fprint(stdout, topUsage(commands, group))
			return errHelp
		}
		if len(args) == 1 {
			return &usageError{group + ": no subcommand given", "Run 'safetynet " + group + " -h' for its subcommands."}
		}
		return &usageError{fmt.Sprintf("%s: unknown subcommand %q", group, args[1]), "Run 'safetynet " + group + " -h' for its subcommands."}
	}
	return &usageError{fmt.Sprintf("unknown command %q", args[0]), "Run 'safetynet -h' for the commands."}
}

// topUsage lists the commands (of a group, when given).
func topUsage(commands []*Command, group string) string {
	var b strings.Builder
	name := strings.TrimSpace("safetynet " + group)
	fmt.Fprintf(&b, "Usage: %s <command> [arguments]\n\n", name)
	if group == "" {
		b.WriteString("safetynet watches households at risk of hardship as partner agencies' change events arrive\non Kafka, and alerts the moment a household's risk score crosses a level.\n\n")
	}
	b.WriteString("Commands:\n")
	for _, c := range commands {
		if group == "" || strings.HasPrefix(c.Name, group+" ") {
			fmt.Fprintf(&b, "  %-14s %s\n", c.Name, c.Desc)
		}
	}
	fmt.Fprintf(&b, "\nRun '%s <command> -h' for a command's flags.\n", name)
	return b.String()
}

// Call is one run of a command.
type Call struct {
	Ctx            context.Context
	Cmd            *Command
	Args           []string
	Stdout, Stderr io.Writer
}

// Flags returns the command's flag set; parse it with c.Parse.
func (c *Call) Flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.Cmd.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors; -h prints to stdout
	return fs
}

// Parse parses the flags, then checks the count of the other arguments against min and max
// (max < 0: no limit). -h prints the command's help to stdout and returns errHelp.
func (c *Call) Parse(fs *flag.FlagSet, minArgs, maxArgs int) error {
	hint := "Run 'safetynet " + c.Cmd.Name + " -h' for usage."
	if err := fs.Parse(c.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.help(fs)
			return errHelp
		}
		return &usageError{c.Cmd.Name + ": " + err.Error(), hint}
	}
	switch n := fs.NArg(); {
	case n < minArgs:
		return &usageError{fmt.Sprintf("%s: missing argument %s", c.Cmd.Name, c.Cmd.Args[strings.LastIndex(c.Cmd.Args, " ")+1:]), hint}
	case maxArgs >= 0 && n > maxArgs:
		return &usageError{fmt.Sprintf("%s: unexpected argument %q", c.Cmd.Name, fs.Arg(maxArgs)), hint}
	}
	return nil
}

// BadFlag is a usage error for a flag's value.
func (c *Call) BadFlag(f string, a ...any) error {
	return &usageError{c.Cmd.Name + ": " + fmt.Sprintf(f, a...), "Run 'safetynet " + c.Cmd.Name + " -h' for usage."}
}

// help prints the command's help: usage line, description, flags, and more.
func (c *Call) help(fs *flag.FlagSet) {
	w := c.Stdout
	fmt.Fprintf(w, "Usage: safetynet %s\n\n%s.\n", strings.TrimSpace(c.Cmd.Name+" "+c.Cmd.Args), strings.ToUpper(c.Cmd.Desc[:1])+c.Cmd.Desc[1:])
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if c.Cmd.More != nil {
		fmt.Fprintln(w)
		c.Cmd.More(w)
	}
}
