"""The command line and the commands that live on their own."""
