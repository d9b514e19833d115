"""The read side: handlers over read-model tables and the HTTP query router."""
