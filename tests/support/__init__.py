"""Support for the tests: real stand-ins for systems the tests talk to."""
