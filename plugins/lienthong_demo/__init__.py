"""Demo and test support for lienthong: seeded generators with labelled defects, demo servers
of the sources' contracts, and the demo command. It depends on the runtime package
``lienthong``; the runtime never imports it."""
