"""Real servers started as child processes: the embedded default and the test harness."""
