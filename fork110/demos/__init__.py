"""One module per code snippet on the slides, each a live, contained demonstration."""
